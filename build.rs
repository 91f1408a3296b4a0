//! Sets `cfg(cairn_test_kubeconfig)` when `CAIRN_TEST_KUBECONFIG` names a cluster at build
//! time, so tests that need a real cluster are reported as ignored, not passed, without it.

fn main() {
    println!("cargo::rustc-check-cfg=cfg(cairn_test_kubeconfig)");
    println!("cargo::rerun-if-env-changed=CAIRN_TEST_KUBECONFIG");
    if std::env::var_os("CAIRN_TEST_KUBECONFIG").is_some_and(|path| !path.is_empty()) {
        println!("cargo::rustc-cfg=cairn_test_kubeconfig");
    }
}
