//! The cxx bridge of the learned models (cargo feature `torch`; namespace `refloat::bridge`,
//! generated header `refloat/src/ffi/bridge_model.rs.h`, wrapped by
//! `cpp/refloat_cxx_model.hpp`): load a model file, ask its variables, bits, rounding and
//! per-variable estimator, and correct an object's variables jointly, in place.
//!
//! The same library functions as the C API's `refloat_model_*` ([`super::model`]): the model
//! is loaded and checked by `Model::load_for`, the blocks are corrected by
//! `model::correct_blocks`, enums are parsed by the C API's functions. Errors and panics
//! become `rust::Error` with the C status recorded for `last_error_status`, as in
//! [`super::bridge`].

use cxx::{CxxString, CxxVector};

use super::bridge::{boundary, BridgeResult, CorrectionSummary, Rounding};
use super::model::{correct_blocks, variable_index};
use super::options::{rounding_mode, rounding_number};
use super::FfiError;
use crate::model::{Estimator, Model};

#[cxx::bridge(namespace = "refloat::bridge")]
mod ffi {
    extern "C++" {
        include!("refloat/src/ffi/bridge.rs.h");
        type Rounding = super::Rounding;
        type CorrectionSummary = super::CorrectionSummary;
    }

    extern "Rust" {
        /// A loaded model (see `refloat::Model` in Rust); shared by threads, inference does
        /// not modify it.
        type LearnedModel;

        /// Load the model file `path` (TorchScript written by `refloat train`) and check it
        /// was made for data stored with `mantissa_bits` kept bits and rounding `mode`, and
        /// for `variables` in this order (empty: not checked). Throws with status
        /// `REFLOAT_MODEL` naming what differs, `REFLOAT_IO` if it cannot be read.
        fn load_model(
            path: &str,
            mantissa_bits: u32,
            mode: Rounding,
            variables: &CxxVector<CxxString>,
        ) -> Result<Box<LearnedModel>>;

        /// The model's variables (branch names), in the order `correct` takes them.
        fn variables(self: &LearnedModel) -> Vec<String>;

        /// Kept mantissa bits of the data the model was made for.
        fn mantissa_bits(self: &LearnedModel) -> u32;

        /// Rounding of the data the model was made for.
        fn rounding(self: &LearnedModel) -> Rounding;

        /// The model kind ("inpainting", "denoise-per-value", …).
        fn kind(self: &LearnedModel) -> String;

        /// What `correct` uses for variable `index`: "model", or "prior-mean" where training
        /// found the network no better on its validation events.
        fn estimator(self: &LearnedModel, index: usize) -> Result<String>;

        /// Training's reason for that choice, one line for a person ("" if none recorded).
        fn explain(self: &LearnedModel, index: usize) -> Result<String>;

        /// Correct in place: `data` holds one block of `n_objects` values per model variable
        /// (all objects' first variable, then all second, …); `event_offsets` holds
        /// events + 1 increasing offsets into the objects (empty: one event). Every result
        /// re-quantises to its stored value; `data` is untouched if it throws.
        fn correct(
            self: &LearnedModel,
            data: &mut [f32],
            n_objects: usize,
            event_offsets: &[u64],
        ) -> Result<CorrectionSummary>;
    }
}

/// A model behind the bridge.
pub struct LearnedModel(Model);

fn load_model(
    path: &str,
    mantissa_bits: u32,
    mode: Rounding,
    variables: &CxxVector<CxxString>,
) -> BridgeResult<Box<LearnedModel>> {
    boundary(|| {
        let mode = rounding_mode(mode.repr)?;
        let names = variables
            .iter()
            .enumerate()
            .map(|(i, v)| {
                v.to_str()
                    .map(str::to_owned)
                    .map_err(|_| FfiError::invalid_argument(format!("variables[{i}] is not UTF-8")))
            })
            .collect::<Result<Vec<String>, _>>()?;
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let check = (!names.is_empty()).then_some(names.as_slice());
        Ok(Box::new(LearnedModel(Model::load_for(
            path,
            mantissa_bits,
            mode,
            check,
        )?)))
    })
}

impl LearnedModel {
    fn variables(&self) -> Vec<String> {
        self.0
            .meta()
            .variable_names()
            .into_iter()
            .map(str::to_owned)
            .collect()
    }

    fn mantissa_bits(&self) -> u32 {
        self.0.meta().mantissa_bits
    }

    fn rounding(&self) -> Rounding {
        Rounding {
            repr: rounding_number(self.0.meta().rounding),
        }
    }

    fn kind(&self) -> String {
        self.0.meta().kind.to_string()
    }

    fn estimator(&self, index: usize) -> BridgeResult<String> {
        boundary(|| {
            let j = variable_index(&self.0, index)?;
            Ok(match self.0.meta().uses(j) {
                Estimator::Model => "model",
                Estimator::PriorMean => "prior-mean",
            }
            .to_string())
        })
    }

    fn explain(&self, index: usize) -> BridgeResult<String> {
        boundary(|| {
            let j = variable_index(&self.0, index)?;
            let meta = self.0.meta();
            Ok(meta
                .choice(&meta.variables[j].name)
                .map(|c| c.explain())
                .unwrap_or_default())
        })
    }

    fn correct(
        &self,
        data: &mut [f32],
        n_objects: usize,
        event_offsets: &[u64],
    ) -> BridgeResult<CorrectionSummary> {
        boundary(|| {
            let n_variables = data
                .len()
                .checked_div(n_objects)
                .unwrap_or(self.0.meta().variables.len());
            Ok(correct_blocks(&self.0, data, n_objects, n_variables, event_offsets)?.into())
        })
    }
}
