//! A float branch in memory: its values and, for `std::vector<float>`, where each entry
//! starts.

use crate::error::{Error, Result};

/// How a float branch stores its values per entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FloatLayout {
    /// One `float` per entry.
    Flat,
    /// A `std::vector<float>` per entry (any length, also 0).
    Jagged,
}

impl FloatLayout {
    /// The C++ type written for it (`float`, `std::vector<float>`).
    pub fn cpp_type(self) -> &'static str {
        match self {
            Self::Flat => "float",
            Self::Jagged => "std::vector<float>",
        }
    }
}

/// All values of a float branch (entries concatenated) and, for a jagged branch, the
/// offsets: entry `i` is `values[offsets[i]..offsets[i + 1]]`.
///
/// Invariant (checked by the constructors): `offsets` is `None` for a flat branch; for a
/// jagged one it starts at 0, never decreases and ends at `values.len()`, so it has
/// `entries + 1` elements.
#[derive(Clone, Debug, PartialEq)]
pub struct FloatBranch {
    /// Branch name.
    pub name: String,
    /// Every value, entries concatenated.
    pub values: Vec<f32>,
    /// `entries + 1` offsets into `values` for a jagged branch, `None` for a flat one.
    pub offsets: Option<Vec<usize>>,
}

impl FloatBranch {
    /// A flat branch: one value per entry.
    ///
    /// ```
    /// let b = refloat_core::io::FloatBranch::flat("x", vec![1.0, 2.0]);
    /// assert_eq!(b.entries(), 2);
    /// ```
    pub fn flat(name: impl Into<String>, values: Vec<f32>) -> Self {
        Self {
            name: name.into(),
            values,
            offsets: None,
        }
    }

    /// A jagged branch from values and `entries + 1` offsets.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the offsets do not start at 0, decrease, or do not end at
    /// `values.len()`.
    ///
    /// ```
    /// let b = refloat_core::io::FloatBranch::jagged("pt", vec![1.0, 2.0, 3.0], vec![0, 2, 2, 3])?;
    /// assert_eq!(b.entries(), 3);
    /// assert_eq!(b.entry(1), &[] as &[f32]);
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn jagged(name: impl Into<String>, values: Vec<f32>, offsets: Vec<usize>) -> Result<Self> {
        let name = name.into();
        let bad = |why: String| {
            Err(Error::InvalidInput(format!(
                "branch '{name}': offsets {why}"
            )))
        };
        if offsets.first() != Some(&0) {
            return bad("must start at 0".into());
        }
        if let Some(i) = offsets.windows(2).position(|w| w[1] < w[0]) {
            return bad(format!("decrease at entry {i}"));
        }
        if *offsets.last().expect("non-empty") != values.len() {
            return bad(format!(
                "end at {} but there are {} values",
                offsets.last().expect("non-empty"),
                values.len()
            ));
        }
        Ok(Self {
            name,
            values,
            offsets: Some(offsets),
        })
    }

    /// A jagged branch from values and per-entry counts.
    ///
    /// # Errors
    /// [`Error::InvalidInput`] if the counts do not add up to `values.len()`.
    ///
    /// ```
    /// let b = refloat_core::io::FloatBranch::from_counts("pt", vec![1.0, 2.0, 3.0], &[2, 0, 1])?;
    /// assert_eq!(b.offsets, Some(vec![0, 2, 2, 3]));
    /// assert_eq!(b.counts(), vec![2, 0, 1]);
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn from_counts(
        name: impl Into<String>,
        values: Vec<f32>,
        counts: &[usize],
    ) -> Result<Self> {
        let mut offsets = Vec::with_capacity(counts.len() + 1);
        offsets.push(0);
        let mut total = 0usize;
        for &c in counts {
            total += c;
            offsets.push(total);
        }
        Self::jagged(name, values, offsets)
    }

    /// Flat or jagged.
    pub fn layout(&self) -> FloatLayout {
        if self.offsets.is_some() {
            FloatLayout::Jagged
        } else {
            FloatLayout::Flat
        }
    }

    /// Number of entries.
    pub fn entries(&self) -> usize {
        match &self.offsets {
            Some(o) => o.len() - 1,
            None => self.values.len(),
        }
    }

    /// The values of entry `i` (one value for a flat branch).
    ///
    /// # Panics
    /// If `i >= self.entries()`.
    pub fn entry(&self, i: usize) -> &[f32] {
        match &self.offsets {
            Some(o) => &self.values[o[i]..o[i + 1]],
            None => std::slice::from_ref(&self.values[i]),
        }
    }

    /// Values per entry (all 1 for a flat branch).
    pub fn counts(&self) -> Vec<usize> {
        match &self.offsets {
            Some(o) => o.windows(2).map(|w| w[1] - w[0]).collect(),
            None => vec![1; self.values.len()],
        }
    }

    /// The same branch (name and structure) with other values.
    ///
    /// # Errors
    /// [`Error::LengthMismatch`] if `values` has a different length.
    ///
    /// ```
    /// let b = refloat_core::io::FloatBranch::from_counts("pt", vec![1.0, 2.0], &[1, 1])?;
    /// let c = b.with_values(vec![1.5, 2.5])?;
    /// assert_eq!((c.name.as_str(), c.entry(1)), ("pt", &[2.5f32][..]));
    /// assert!(b.with_values(vec![1.0]).is_err());
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn with_values(&self, values: Vec<f32>) -> Result<Self> {
        if values.len() != self.values.len() {
            return Err(Error::LengthMismatch {
                what: format!("new values for branch '{}'", self.name),
                left: values.len(),
                right: self.values.len(),
            });
        }
        Ok(Self {
            name: self.name.clone(),
            values,
            offsets: self.offsets.clone(),
        })
    }

    /// Why `other` does not have the same layout, entry count and per-entry lengths, or
    /// `None` if it has: two files are only comparable value by value when this is `None`.
    ///
    /// ```
    /// use refloat_core::io::FloatBranch;
    /// let a = FloatBranch::jagged("pt", vec![1.0, 2.0], vec![0, 1, 2])?;
    /// let b = FloatBranch::jagged("pt", vec![1.0, 2.0], vec![0, 2, 2])?;
    /// assert!(a.structure_mismatch(&a.clone()).is_none());
    /// assert!(a.structure_mismatch(&b).unwrap().contains("entry 0"));
    /// # Ok::<(), refloat_core::Error>(())
    /// ```
    pub fn structure_mismatch(&self, other: &FloatBranch) -> Option<String> {
        if self.layout() != other.layout() {
            return Some(format!(
                "layouts differ ({} vs {})",
                self.layout().cpp_type(),
                other.layout().cpp_type()
            ));
        }
        if self.entries() != other.entries() {
            return Some(format!(
                "entry counts differ ({} vs {})",
                self.entries(),
                other.entries()
            ));
        }
        if let (Some(a), Some(b)) = (&self.offsets, &other.offsets) {
            if let Some(i) = a
                .windows(2)
                .zip(b.windows(2))
                .position(|(x, y)| x[1] - x[0] != y[1] - y[0])
            {
                return Some(format!(
                    "jagged offsets differ: entry {i} has {} values vs {}",
                    a[i + 1] - a[i],
                    b[i + 1] - b[i]
                ));
            }
        }
        None
    }
}
