//! What one env of a pool is: a source, a task string, and episode settings.

use std::sync::Arc;

use crate::error::ConfigError;

/// One env: the class source, its task string `Name@{options}`, and episode settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EnvSpec {
    /// Python source defining the env class (shared, so many specs can point at one source).
    pub source: Arc<str>,
    /// Task string passed to `from_env_str`; the class name is its prefix before `@`.
    pub env_str: String,
    /// Episodes end (truncated) after this many steps, if set.
    pub max_steps: Option<u64>,
    /// Seed for the guest's `random` module and its WASI randomness.
    pub seed: u64,
    class_name: String,
}

impl EnvSpec {
    pub fn new(
        source: Arc<str>,
        env_str: impl Into<String>,
        max_steps: Option<u64>,
        seed: u64,
    ) -> Result<Self, ConfigError> {
        let env_str = env_str.into();
        let class_name = class_name_of(&env_str)?.to_owned();
        if max_steps == Some(0) {
            return Err(ConfigError("max_steps must be positive".into()));
        }
        Ok(Self {
            source,
            env_str,
            max_steps,
            seed,
            class_name,
        })
    }

    /// The env class name: `env_str` up to the first `@`.
    pub fn class_name(&self) -> &str {
        &self.class_name
    }
}

/// The class name of a task string, checked to be a Python identifier.
pub fn class_name_of(env_str: &str) -> Result<&str, ConfigError> {
    let name = env_str.split('@').next().unwrap_or_default();
    let mut chars = name.chars();
    let valid = matches!(chars.next(), Some(c) if c == '_' || c.is_alphabetic())
        && chars.all(|c| c == '_' || c.is_alphanumeric());
    if valid {
        Ok(name)
    } else {
        Err(ConfigError(format!(
            "env_str {:?} must start with a class name (a Python identifier) followed by '@'",
            env_str.chars().take(80).collect::<String>()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_name_is_prefix_before_at() {
        assert_eq!(class_name_of("FooEnv@{\"n\": 1}"), Ok("FooEnv"));
        assert_eq!(class_name_of("FooEnv"), Ok("FooEnv"));
        assert_eq!(class_name_of("_Env2@x@y"), Ok("_Env2"));
    }

    #[test]
    fn class_name_must_be_identifier() {
        assert!(class_name_of("@{}").is_err());
        assert!(class_name_of("1Env@{}").is_err());
        assert!(class_name_of("Foo Env@{}").is_err());
        assert!(class_name_of("os.system@{}").is_err());
    }

    #[test]
    fn zero_max_steps_is_refused() {
        let source: Arc<str> = Arc::from("");
        assert!(EnvSpec::new(source, "A@{}", Some(0), 0).is_err());
    }
}
