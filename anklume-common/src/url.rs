//! The one builder of Incus REST paths, and its decoder beside it.
//!
//! Incus accepts `? & # % + = , ; .` and non-ASCII letters in project names (and more in image
//! aliases), so every path segment and query value is percent-encoded here, and nowhere else.

use std::fmt;

/// `/1.0/SEGMENT/...?KEY=VALUE&...`, every part encoded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiPath {
    path: String,
    query: Vec<(&'static str, String)>,
}

impl ApiPath {
    /// `/1.0` followed by `segments`, each encoded.
    pub fn new(segments: &[&str]) -> Self {
        let mut path = "/1.0".to_owned();
        for segment in segments {
            path.push('/');
            path.push_str(&encode(segment));
        }
        Self {
            path,
            query: Vec::new(),
        }
    }

    /// Adds `key=value` to the query.
    #[must_use]
    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.query.push((key, value.into()));
        self
    }

    /// `project=PROJECT`, or `all-projects=true` for `None`.
    #[must_use]
    pub fn in_project(self, project: Option<&str>) -> Self {
        match project {
            Some(project) => self.query("project", project),
            None => self.query("all-projects", "true"),
        }
    }

    /// `recursion=1`: the objects themselves rather than their URLs.
    #[must_use]
    pub fn recursive(self) -> Self {
        self.query("recursion", "1")
    }
}

impl fmt::Display for ApiPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.path)?;
        for (i, (key, value)) in self.query.iter().enumerate() {
            let separator = if i == 0 { '?' } else { '&' };
            write!(f, "{separator}{key}={}", encode(value))?;
        }
        Ok(())
    }
}

/// Percent-encodes a URL query value or path segment: everything but unreserved characters.
pub fn encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Undoes [`encode`] (and any other percent-encoding); a stray `%` stays as it is.
pub fn decode(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `/1.0/KIND/NAME[?project=P]`, as Incus lists objects → (NAME, P), P being `default` when
/// absent; `None` for a URL of another kind.
pub fn parse_object_url(url: &str, kind: &str) -> Option<(String, String)> {
    let rest = url.strip_prefix("/1.0/")?.strip_prefix(kind)?;
    let rest = rest.strip_prefix('/')?;
    let (name, query) = rest.split_once('?').unwrap_or((rest, ""));
    let project = query
        .split('&')
        .find_map(|pair| pair.strip_prefix("project="))
        .map(decode)
        .unwrap_or_else(|| "default".to_owned());
    Some((decode(name), project))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every character Incus accepts in a project name that means something in a URL.
    const ODD: &str = "q?&#%+=,;.é";

    #[test]
    fn encoding_keeps_unreserved_characters_only() {
        assert_eq!(encode("web-1_a.b~c"), "web-1_a.b~c");
        assert_eq!(encode("my project/é"), "my%20project%2F%C3%A9");
        assert_eq!(encode(ODD), "q%3F%26%23%25%2B%3D%2C%3B.%C3%A9");
    }

    #[test]
    fn paths_encode_segments_and_query_values() {
        let path = ApiPath::new(&["images", "aliases", "a/b?"]).in_project(Some(ODD));
        assert_eq!(
            path.to_string(),
            "/1.0/images/aliases/a%2Fb%3F?project=q%3F%26%23%25%2B%3D%2C%3B.%C3%A9"
        );
        let all = ApiPath::new(&["instances"]).in_project(None).recursive();
        assert_eq!(
            all.to_string(),
            "/1.0/instances?all-projects=true&recursion=1"
        );
    }

    #[test]
    fn decoding_undoes_encoding() {
        for text in ["lab", "my lab", "a&b=c", "été", ODD, "100%"] {
            assert_eq!(decode(&encode(text)), text);
        }
        assert_eq!(decode("50%"), "50%");
    }

    #[test]
    fn object_urls_give_name_and_project() {
        let instance = |url: &str| parse_object_url(url, "instances");
        assert_eq!(
            instance("/1.0/instances/web"),
            Some(("web".into(), "default".into()))
        );
        assert_eq!(
            instance("/1.0/instances/web?project=my%20lab"),
            Some(("web".into(), "my lab".into()))
        );
        let built = ApiPath::new(&["instances", "web"])
            .in_project(Some(ODD))
            .to_string();
        assert_eq!(instance(&built), Some(("web".into(), ODD.into())));
        assert_eq!(instance("/1.0/images/abc"), None);
        assert_eq!(instance("/1.0/instancesx/abc"), None);
    }
}
