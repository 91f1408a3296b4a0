//! Generated secret values: random strings over a character set, and Fernet keys. Bytes
//! come from the operating system's RNG; characters are drawn without modulo bias.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE;
use cairn_provider_core::ProviderError;
use rand::TryRngCore;
use rand::rngs::OsRng;
use serde::Deserialize;

/// Length of a generated string when the stack does not say.
pub(super) const DEFAULT_LENGTH: usize = 32;
/// Longest value Secrets Manager stores is 64 KiB; passwords never need more than this.
const MAX_LENGTH: usize = 4096;
/// A Fernet key is 32 random bytes (a signing key and an encryption key of 16 each).
const FERNET_KEY_BYTES: usize = 32;

/// The `generate` block of a secret.
#[derive(Clone, Debug, Default, PartialEq, Deserialize)]
pub(super) struct Generate {
    pub length: Option<i64>,
    pub charset: Option<String>,
    pub kind: Option<String>,
}

/// The characters a generated string is drawn from.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Charset {
    Alphanumeric,
    /// `!` to `~`: every printable ASCII character but space.
    AsciiPrintable,
    Hex,
}

impl Charset {
    fn parse(name: &str) -> Option<Self> {
        match name {
            "alphanumeric" => Some(Charset::Alphanumeric),
            "ascii_printable" => Some(Charset::AsciiPrintable),
            "hex" => Some(Charset::Hex),
            _ => None,
        }
    }

    fn characters(self) -> Vec<u8> {
        match self {
            Charset::Alphanumeric => (b'A'..=b'Z')
                .chain(b'a'..=b'z')
                .chain(b'0'..=b'9')
                .collect(),
            Charset::AsciiPrintable => (b'!'..=b'~').collect(),
            Charset::Hex => (b'0'..=b'9').chain(b'a'..=b'f').collect(),
        }
    }
}

/// What a `generate` block asks for, validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(super) enum Recipe {
    Random { length: usize, charset: Charset },
    Fernet,
}

impl Generate {
    pub fn recipe(&self) -> Result<Recipe, ProviderError> {
        match self.kind.as_deref() {
            Some("fernet") => {
                if self.length.is_some() || self.charset.is_some() {
                    return Err(ProviderError::invalid(
                        "generate",
                        "kind = \"fernet\" takes no length or charset (a Fernet key is 32 bytes)",
                    ));
                }
                Ok(Recipe::Fernet)
            }
            Some("random") | None => {
                let length = match self.length {
                    None => DEFAULT_LENGTH,
                    Some(n) => usize::try_from(n)
                        .ok()
                        .filter(|n| (1..=MAX_LENGTH).contains(n))
                        .ok_or_else(|| {
                            ProviderError::invalid(
                                "generate.length",
                                format!("must be between 1 and {MAX_LENGTH}"),
                            )
                        })?,
                };
                let charset = match self.charset.as_deref() {
                    None => Charset::Alphanumeric,
                    Some(name) => Charset::parse(name).ok_or_else(|| {
                        ProviderError::invalid(
                            "generate.charset",
                            "must be alphanumeric, ascii_printable or hex",
                        )
                    })?,
                };
                Ok(Recipe::Random { length, charset })
            }
            Some(_) => Err(ProviderError::invalid(
                "generate.kind",
                "must be random or fernet",
            )),
        }
    }
}

impl Recipe {
    /// A fresh value. The error names no value.
    pub fn generate(self) -> Result<String, ProviderError> {
        match self {
            Recipe::Fernet => Ok(URL_SAFE.encode(random_bytes(FERNET_KEY_BYTES)?)),
            Recipe::Random { length, charset } => random_string(length, &charset.characters()),
        }
    }
}

fn random_bytes(count: usize) -> Result<Vec<u8>, ProviderError> {
    let mut bytes = vec![0u8; count];
    OsRng.try_fill_bytes(&mut bytes).map_err(|e| {
        ProviderError::Other(format!(
            "the operating system's random generator failed: {e}"
        ))
    })?;
    Ok(bytes)
}

/// `length` characters drawn uniformly from `characters`: bytes at or above the largest
/// multiple of the set's size are dropped, so every character is equally likely.
fn random_string(length: usize, characters: &[u8]) -> Result<String, ProviderError> {
    let size = characters.len();
    let limit = 256 - (256 % size);
    let mut out = String::with_capacity(length);
    while out.len() < length {
        for byte in random_bytes(length * 2)? {
            if out.len() == length {
                break;
            }
            let byte = usize::from(byte);
            if byte < limit {
                out.push(char::from(characters[byte % size]));
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn generate(
        length: Option<i64>,
        charset: Option<&str>,
        kind: Option<&str>,
    ) -> Result<String, ProviderError> {
        Generate {
            length,
            charset: charset.map(str::to_owned),
            kind: kind.map(str::to_owned),
        }
        .recipe()
        .and_then(Recipe::generate)
    }

    #[test]
    fn fernet_key_is_32_url_safe_bytes_with_padding() {
        let key = generate(None, None, Some("fernet")).expect("generated");
        assert_eq!(key.len(), 44);
        assert!(key.ends_with('='));
        assert_eq!(URL_SAFE.decode(&key).map(|b| b.len()).ok(), Some(32));
        assert_ne!(
            key,
            generate(None, None, Some("fernet")).expect("generated")
        );
    }

    #[test]
    fn strings_have_the_length_and_charset_asked_for() {
        let value = generate(None, None, None).expect("generated");
        assert_eq!(value.len(), DEFAULT_LENGTH);
        assert!(value.bytes().all(|b| b.is_ascii_alphanumeric()));
        let hex = generate(Some(64), Some("hex"), None).expect("generated");
        assert_eq!(hex.len(), 64);
        assert!(
            hex.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        );
        let printable = generate(Some(200), Some("ascii_printable"), None).expect("generated");
        assert!(printable.bytes().all(|b| b.is_ascii_graphic()));
    }

    #[test]
    fn every_character_of_the_set_is_used() {
        let value = generate(Some(4000), Some("hex"), None).expect("generated");
        for c in Charset::Hex.characters() {
            assert!(
                value.as_bytes().contains(&c),
                "{} never drawn",
                char::from(c)
            );
        }
    }

    #[test]
    fn invalid_recipes_are_refused() {
        assert!(generate(Some(0), None, None).is_err());
        assert!(generate(None, Some("emoji"), None).is_err());
        assert!(generate(Some(16), None, Some("fernet")).is_err());
        assert!(generate(None, None, Some("uuid")).is_err());
    }
}
