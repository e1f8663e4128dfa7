//! Choosing branches by exact name or glob.

use crate::error::{Error, Result};

/// One `--branches` argument: an exact branch name, or a glob when it contains `*`, `?`
/// or `[` (`AnalysisElectronsAuxDyn.*`). Globs match the whole name; `.` and `/` are
/// ordinary characters.
#[derive(Clone, Debug)]
pub enum BranchPattern {
    /// Exactly this name.
    Exact(String),
    /// A glob (the original text and its compiled form).
    Glob(String, glob::Pattern),
}

impl std::fmt::Display for BranchPattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Exact(t) | Self::Glob(t, _) => f.write_str(t),
        }
    }
}

impl BranchPattern {
    /// Parses one pattern.
    ///
    /// # Errors
    /// [`Error::InvalidArgument`] for a malformed glob (e.g. an unclosed `[`).
    ///
    /// ```
    /// use refloat_core::io::BranchPattern;
    /// let p = BranchPattern::parse("AnalysisElectronsAuxDyn.*")?;
    /// assert!(p.matches("AnalysisElectronsAuxDyn.pt"));
    /// assert!(!p.matches("AnalysisMuonsAuxDyn.pt"));
    /// assert!(BranchPattern::parse("AnalysisJetsAuxDyn.pt")?.matches("AnalysisJetsAuxDyn.pt"));
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn parse(text: &str) -> Result<Self> {
        if text.contains(['*', '?', '[']) {
            let pattern = glob::Pattern::new(text)
                .map_err(|e| Error::InvalidArgument(format!("branch pattern '{text}': {e}")))?;
            Ok(Self::Glob(text.to_string(), pattern))
        } else {
            Ok(Self::Exact(text.to_string()))
        }
    }

    /// Whether `name` is selected by this pattern.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            Self::Exact(e) => e == name,
            Self::Glob(_, p) => p.matches_with(
                name,
                glob::MatchOptions {
                    case_sensitive: true,
                    require_literal_separator: false,
                    require_literal_leading_dot: false,
                },
            ),
        }
    }

    /// The pattern as the user wrote it.
    pub fn text(&self) -> &str {
        match self {
            Self::Exact(e) => e,
            Self::Glob(t, _) => t,
        }
    }

    /// Whether this is an exact name (an exact name that is missing or not a float branch
    /// is an error; a glob only skips what does not fit).
    pub fn is_exact(&self) -> bool {
        matches!(self, Self::Exact(_))
    }
}

/// Parses a list of patterns (see [`BranchPattern::parse`]).
///
/// # Errors
/// The first malformed pattern.
///
/// ```
/// let p = refloat_core::io::parse_patterns(&["AnalysisJetsAuxDyn.pt", "AnalysisMuonsAuxDyn.*"])?;
/// assert!(p[0].is_exact() && !p[1].is_exact());
/// assert!(refloat_core::io::parse_patterns(&["Broken[glob"]).is_err());
/// # Ok::<(), refloat_core::Error>(())
/// ```
pub fn parse_patterns<S: AsRef<str>>(texts: &[S]) -> Result<Vec<BranchPattern>> {
    texts
        .iter()
        .map(|t| BranchPattern::parse(t.as_ref()))
        .collect()
}
