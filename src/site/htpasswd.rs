//! Apache htpasswd files for `--basic-auth`: `user:hash` lines read once when the site is
//! opened, each hash judged there so that a weak one refuses the site with `FILE:LINE` and the
//! reason instead of being served. Accepted: bcrypt (`$2y$`, `$2b$`, `$2a$`), SHA-512-crypt and
//! SHA-256-crypt (`$6$`, `$5$`) and argon2id, all slow and salted; refused: MD5 (`$apr1$`, `$1$`),
//! `{SHA}` and anything else (plain text, DES crypt), which a stolen file gives away in hours.
//! It verifies a password against a hash and finds a user's hash; it must never decide who may
//! see a path, cache a verification, or keep a password.

use std::collections::HashMap;
use std::path::Path;

use argon2::Argon2;
use sha_crypt::{PasswordVerifier, ShaCrypt};

/// One user's password hash, in an accepted format.
#[derive(Clone, Debug)]
pub enum Hash {
    /// `$2y$`, `$2b$` or `$2a$`.
    Bcrypt(Box<str>),
    /// `$6$` or `$5$`.
    ShaCrypt(Box<str>),
    /// `$argon2id$`.
    Argon2id(Box<str>),
}

impl Hash {
    /// Judges the hash part of a line: `Err` says why it is refused.
    fn parse(hash: &str) -> Result<Hash, String> {
        let weak = "too fast to resist guessing once the file leaks: hash the password again with \
                    `htpasswd -B`";
        for md5 in ["$apr1$", "$1$"] {
            if hash.starts_with(md5) {
                return Err(format!("MD5-crypt ({md5}) is {weak}"));
            }
        }
        if hash.starts_with("{SHA}") {
            return Err(format!("{{SHA}} is unsalted SHA-1, {weak}"));
        }
        if hash.starts_with("$2y$") || hash.starts_with("$2b$") || hash.starts_with("$2a$") {
            return hash
                .parse::<bcrypt::HashParts>()
                .map(|_| Hash::Bcrypt(hash.into()))
                .map_err(|e| format!("the bcrypt hash does not parse: {e}"));
        }
        if hash.starts_with("$6$") || hash.starts_with("$5$") {
            return sha_crypt::PasswordHashRef::new(hash)
                .map(|_| Hash::ShaCrypt(hash.into()))
                .map_err(|e| format!("the SHA-crypt hash does not parse: {e}"));
        }
        if hash.starts_with("$argon2id$") {
            return argon2::PasswordHash::new(hash)
                .map(|_| Hash::Argon2id(hash.into()))
                .map_err(|e| format!("the argon2id hash does not parse: {e}"));
        }
        if hash.starts_with("$argon2") {
            return Err("of the argon2 variants only argon2id is accepted".to_string());
        }
        let others = "hash the password with `htpasswd -B` or `mkpasswd -m sha-512`";
        // Named only when known: a plain-text password can look like `$word$…`, and no part
        // of one may reach the log. `mkpasswd` without `-m` makes yescrypt on Debian and Ubuntu.
        for (prefix, name) in [
            ("$y$", "yescrypt"),
            ("$gy$", "gost-yescrypt"),
            ("$7$", "scrypt"),
            ("$3$", "NT-hash"),
            ("$md5", "Sun MD5-crypt"),
            ("$sha1$", "SHA1-crypt"),
        ] {
            if hash.starts_with(prefix) {
                return Err(format!("{name} ({prefix}) is not supported: {others}"));
            }
        }
        Err(
            "not a bcrypt, SHA-crypt or argon2id hash (plain text or DES crypt?): hash the \
             password with `htpasswd -B`"
                .to_string(),
        )
    }

    /// Whether `password` is the one hashed: one full-cost computation, compared in constant
    /// time by the hash's crate.
    pub fn verify(&self, password: &[u8]) -> bool {
        match self {
            Hash::Bcrypt(h) => bcrypt::verify(password, h).unwrap_or(false),
            Hash::ShaCrypt(h) => ShaCrypt::default().verify_password(password, &**h).is_ok(),
            Hash::Argon2id(h) => Argon2::default().verify_password(password, &**h).is_ok(),
        }
    }
}

/// The users of one htpasswd file.
#[derive(Debug)]
pub struct Htpasswd {
    users: HashMap<Box<[u8]>, Hash>,
    /// Verified in place of an unknown user's hash, so that a wrong user name costs what a
    /// wrong password does: the file's first hash, the cost its users are made with.
    dummy: Hash,
}

impl Htpasswd {
    /// Reads and judges the file at `path`; every problem is one line `FILE:LINE: what`.
    pub fn load(path: &Path) -> Result<Htpasswd, Vec<String>> {
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|e| vec![format!("{name}: cannot read the htpasswd file: {e}")])?;
        Htpasswd::parse(&text, &name)
    }

    /// The users of htpasswd text `text` from the file named `name`. Blank lines and lines
    /// starting with `#` are skipped, as Apache's tools leave them.
    pub fn parse(text: &str, name: &str) -> Result<Htpasswd, Vec<String>> {
        let mut users = HashMap::new();
        let mut first_line = HashMap::new();
        let mut dummy = None;
        let mut problems = Vec::new();
        for (i, line) in text.lines().enumerate() {
            let n = i + 1;
            let line = line.trim_end();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let Some((user, hash)) = line.split_once(':') else {
                problems.push(format!("{name}:{n}: not USER:HASH"));
                continue;
            };
            if user.is_empty() {
                problems.push(format!("{name}:{n}: an empty user name"));
                continue;
            }
            if let Some(earlier) = first_line.insert(user, n) {
                problems.push(format!(
                    "{name}:{n}: user {user:?} is already on line {earlier}"
                ));
                continue;
            }
            match Hash::parse(hash) {
                Ok(h) => {
                    dummy.get_or_insert_with(|| h.clone());
                    users.insert(user.as_bytes().into(), h);
                }
                Err(why) => problems.push(format!("{name}:{n}: user {user:?}: {why}")),
            }
        }
        match dummy {
            _ if !problems.is_empty() => Err(problems),
            None => Err(vec![format!(
                "{name}: no users (add one with `htpasswd -B {name} USER`)"
            )]),
            Some(dummy) => Ok(Htpasswd { users, dummy }),
        }
    }

    /// The hash to verify a password of `user` against, and whether `user` is in the file:
    /// an unknown user gets the dummy, so both cost one verification.
    pub fn hash_of(&self, user: &[u8]) -> (&Hash, bool) {
        match self.users.get(user) {
            Some(h) => (h, true),
            None => (&self.dummy, false),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> std::path::PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/auth")
            .join(name)
    }

    #[test]
    fn every_accepted_format_verifies_its_password_only() {
        for (file, user, password) in [
            ("bcrypt.htpasswd", "alice", "alice-pw"),
            ("bcrypt.htpasswd", "bob", "bob pw:with colon"),
            ("bcrypt-2b-2a.htpasswd", "frank", "frank-pw"),
            ("bcrypt-2b-2a.htpasswd", "grace", "grace-pw"),
            ("sha.htpasswd", "carol", "carol-pw"),
            ("sha.htpasswd", "dave", "dave-pw"),
            ("argon2.htpasswd", "erin", "erin-pw"),
        ] {
            let users = Htpasswd::load(&fixture(file)).unwrap();
            let (hash, known) = users.hash_of(user.as_bytes());
            assert!(known, "{file}: {user}");
            assert!(hash.verify(password.as_bytes()), "{file}: {user}");
            assert!(!hash.verify(b"wrong"), "{file}: {user}");
            assert!(!hash.verify(b""), "{file}: {user}");
        }
    }

    #[test]
    fn weak_or_unknown_formats_are_refused_with_file_line_and_why() {
        for (file, why) in [
            ("md5.htpasswd", "MD5-crypt ($apr1$) is too fast"),
            ("sha1.htpasswd", "{SHA} is unsalted SHA-1"),
            (
                "plain.htpasswd",
                "not a bcrypt, SHA-crypt or argon2id hash (plain text",
            ),
        ] {
            let path = fixture(file);
            let problems = Htpasswd::load(&path).unwrap_err();
            let expected = format!("{}:1: user \"mallory\": {why}", path.display());
            assert_eq!(problems.len(), 1, "{problems:?}");
            assert!(problems[0].starts_with(&expected), "{problems:?}");
        }
    }

    #[test]
    fn each_bad_line_is_one_problem() {
        let bcrypt = "$2y$05$ie6P3xTtmyHtv5yZ9E0Rc.zNgQqfiTqIphFx8ZVKISSVbt/dMGe7q";
        let text = format!(
            "# staff\n\nann:{bcrypt}\nno colon\n:{bcrypt}\nann:{bcrypt}\nbea:$argon2i$v=19$x\n\
             cy:$2y$05$short\ndi:$y$j9T$salt$hash\ned:$3$x$y\nfay:$ecret$pw\n"
        );
        let problems = Htpasswd::parse(&text, "f").unwrap_err();
        assert_eq!(
            problems,
            [
                "f:4: not USER:HASH",
                "f:5: an empty user name",
                "f:6: user \"ann\" is already on line 3",
                "f:7: user \"bea\": of the argon2 variants only argon2id is accepted",
                "f:8: user \"cy\": the bcrypt hash does not parse: Invalid hash: the hash \
                 format is malformed; expected 60 ASCII bytes",
                "f:9: user \"di\": yescrypt ($y$) is not supported: hash the password with \
                 `htpasswd -B` or `mkpasswd -m sha-512`",
                "f:10: user \"ed\": NT-hash ($3$) is not supported: hash the password with \
                 `htpasswd -B` or `mkpasswd -m sha-512`",
                "f:11: user \"fay\": not a bcrypt, SHA-crypt or argon2id hash (plain text or \
                 DES crypt?): hash the password with `htpasswd -B`",
            ]
        );
        let users = Htpasswd::parse(&format!("ann:{bcrypt}\r\n"), "f").unwrap();
        assert!(users.hash_of(b"ann").1);
        let (dummy, known) = users.hash_of(b"nobody");
        assert!(!known);
        assert!(matches!(dummy, Hash::Bcrypt(_)), "the file's own cost");
        assert!(Htpasswd::parse("# nobody\n", "f").unwrap_err()[0].contains("no users"));
    }
}
