//! The networks, defined with tch's `nn` and exported to TorchScript by tracing.
//!
//! Export: the trained weights are frozen and the forward pass is traced on the CPU with
//! `tch::CModule::create_by_tracing`; the tracer bakes the weights in as constants, so the
//! saved `.pt` file is an ordinary TorchScript module (`forward(x) -> y`) that
//! `torch.jit.load` (Python) and `torch::jit::load` (C++) run without refloat.

use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};

use super::meta::ModelKind;
use refloat_core::error::{Error, Result};

/// Turn a libtorch error into refloat's.
pub(crate) fn tch_err(context: &str) -> impl Fn(tch::TchError) -> Error + '_ {
    move |e| Error::Model(format!("{context}: libtorch: {e}"))
}

/// Shape of a network.
#[derive(Clone, Copy, Debug)]
pub(crate) struct NetShape {
    pub kind: ModelKind,
    /// Input features (inpainting) or input channels (autoencoders).
    pub inputs: usize,
    /// Outputs per object (inpainting) or output channels (per-value autoencoder): the
    /// number of variables. 1 for the histogram autoencoder.
    pub outputs: usize,
    /// Hidden width / channels.
    pub hidden: usize,
}

/// A network and its variables.
pub(crate) struct Net {
    pub vs: nn::VarStore,
    pub shape: NetShape,
    layers: Layers,
}

#[allow(clippy::large_enum_variant)] // one per network, never moved in a hot loop
enum Layers {
    /// `x [B, inputs] → [B, outputs]` fractions: MLP, SiLU, sigmoid.
    Mlp(Vec<nn::Linear>),
    /// `x [B, inputs, L] → [B, outputs, L]` fractions: conv encoder (wide → narrow
    /// bottleneck) and decoder, all `same` padded.
    ConvSeq(Vec<nn::Conv1D>),
    /// `x [B, 1, bins] → [B, 1, bins]` log-probabilities: strided conv encoder, transposed
    /// conv decoder, plus a 1×1 skip from the input.
    ConvHist {
        enc: Vec<nn::Conv1D>,
        dec: Vec<nn::ConvTranspose1D>,
        head: nn::Conv1D,
        skip: nn::Conv1D,
    },
}

fn same(k: i64) -> nn::ConvConfig {
    nn::ConvConfig {
        padding: k / 2,
        ..Default::default()
    }
}

/// Output layers start at zero, so an untrained per-value model outputs exactly 0.5 (the
/// interval midpoint) and an untrained histogram model returns its input histogram:
/// training moves away from the trivial answer only as far as the data supports it.
const ZERO: nn::Init = nn::Init::Const(0.0);

impl Net {
    /// A freshly initialised network on `device` (initialisation follows `tch::manual_seed`).
    pub fn new(shape: NetShape, device: Device) -> Net {
        let vs = nn::VarStore::new(device);
        let p = vs.root();
        let (i, o, h) = (
            shape.inputs as i64,
            shape.outputs as i64,
            shape.hidden as i64,
        );
        let layers = match shape.kind {
            ModelKind::Inpainting => Layers::Mlp(vec![
                nn::linear(&p / "l0", i, h, Default::default()),
                nn::linear(&p / "l1", h, h, Default::default()),
                nn::linear(
                    &p / "l2",
                    h,
                    o,
                    nn::LinearConfig {
                        ws_init: ZERO,
                        bs_init: Some(ZERO),
                        bias: true,
                    },
                ),
            ]),
            ModelKind::DenoisePerValue => {
                let b = (h / 2).max(4);
                Layers::ConvSeq(vec![
                    nn::conv1d(&p / "c0", i, h, 7, same(7)),
                    nn::conv1d(&p / "c1", h, b, 5, same(5)),
                    nn::conv1d(&p / "c2", b, h, 5, same(5)),
                    nn::conv1d(
                        &p / "c3",
                        h,
                        o,
                        1,
                        nn::ConvConfig {
                            ws_init: ZERO,
                            bs_init: ZERO,
                            ..Default::default()
                        },
                    ),
                ])
            }
            ModelKind::DenoiseHistogram => {
                let down = nn::ConvConfig {
                    padding: 2,
                    stride: 2,
                    ..Default::default()
                };
                let up = nn::ConvTransposeConfig {
                    padding: 1,
                    stride: 2,
                    ..Default::default()
                };
                Layers::ConvHist {
                    enc: vec![
                        nn::conv1d(&p / "e0", i, h, 5, same(5)),
                        nn::conv1d(&p / "e1", h, h, 5, down),
                        nn::conv1d(&p / "e2", h, h, 5, down),
                    ],
                    dec: vec![
                        nn::conv_transpose1d(&p / "d0", h, h, 4, up),
                        nn::conv_transpose1d(&p / "d1", h, h, 4, up),
                    ],
                    head: nn::conv1d(
                        &p / "head",
                        h,
                        o,
                        5,
                        nn::ConvConfig {
                            ws_init: ZERO,
                            bs_init: ZERO,
                            ..same(5)
                        },
                    ),
                    skip: nn::conv1d(
                        &p / "skip",
                        i,
                        o,
                        1,
                        nn::ConvConfig {
                            ws_init: nn::Init::Const(1.0),
                            bs_init: ZERO,
                            ..Default::default()
                        },
                    ),
                }
            }
        };
        Net { vs, shape, layers }
    }

    /// The training-time output: fractions in `[0, 1]` (inpainting, per-value autoencoder)
    /// or log-probabilities over bins (histogram autoencoder).
    pub fn forward(&self, x: &Tensor) -> Tensor {
        match &self.layers {
            Layers::Mlp(l) => {
                let h = l[0].forward(x).silu();
                let h = l[1].forward(&h).silu();
                l[2].forward(&h).sigmoid()
            }
            Layers::ConvSeq(c) => {
                let h = c[0].forward(x).relu();
                let h = c[1].forward(&h).relu();
                let h = c[2].forward(&h).relu();
                c[3].forward(&h).sigmoid()
            }
            Layers::ConvHist {
                enc,
                dec,
                head,
                skip,
            } => {
                // The input is a density (mean 1 per bin); its log is the natural skip.
                let h = enc
                    .iter()
                    .fold(x.shallow_clone(), |h, c| c.forward(&h).relu());
                let h = dec.iter().fold(h, |h, d| d.forward(&h).relu());
                let logits = head.forward(&h) + skip.forward(&(x.clamp_min(0.0) + 1e-3).log());
                logits.log_softmax(-1, Kind::Float)
            }
        }
    }

    /// The exported output: what `forward` of the TorchScript module returns. Fractions
    /// for the per-value models, probabilities (summing to 1 over bins) for histograms.
    pub fn export_forward(&self, x: &Tensor) -> Tensor {
        match self.shape.kind {
            ModelKind::DenoiseHistogram => self.forward(x).exp(),
            _ => self.forward(x),
        }
    }

    /// Snapshot of all variables (for early stopping).
    pub fn snapshot(&self) -> Vec<(String, Tensor)> {
        let mut v: Vec<(String, Tensor)> = self
            .vs
            .variables()
            .into_iter()
            .map(|(k, t)| (k, t.detach().copy()))
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Restore a [`Self::snapshot`].
    pub fn restore(&mut self, snap: &[(String, Tensor)]) {
        let vars = self.vs.variables();
        tch::no_grad(|| {
            for (k, t) in snap {
                if let Some(v) = vars.get(k) {
                    let mut v = v.shallow_clone();
                    v.copy_(t);
                }
            }
        });
    }

    /// Trace the exported forward pass into a TorchScript module (weights as constants) and
    /// return the bytes of its `.pt` file. The network is moved to the CPU first.
    pub fn into_torchscript(mut self, scratch_dir: &std::path::Path) -> Result<Vec<u8>> {
        self.vs.set_device(Device::Cpu);
        self.vs.freeze();
        let example = match self.shape.kind {
            ModelKind::Inpainting => {
                Tensor::zeros([2, self.shape.inputs as i64], (Kind::Float, Device::Cpu))
            }
            ModelKind::DenoisePerValue => Tensor::zeros(
                [1, self.shape.inputs as i64, 16],
                (Kind::Float, Device::Cpu),
            ),
            ModelKind::DenoiseHistogram => Tensor::ones(
                [1, self.shape.inputs as i64, 64],
                (Kind::Float, Device::Cpu),
            ),
        };
        let module = tch::no_grad(|| {
            tch::CModule::create_by_tracing("RefloatModel", "forward", &[example], &mut |xs| {
                vec![self.export_forward(&xs[0])]
            })
        })
        .map_err(tch_err("tracing the model"))?;
        let tmp = tempfile::Builder::new()
            .prefix("refloat_model")
            .suffix(".pt")
            .tempfile_in(scratch_dir)
            .map_err(|source| Error::Io {
                path: scratch_dir.to_path_buf(),
                source,
            })?;
        module
            .save(tmp.path())
            .map_err(tch_err("saving the TorchScript module"))?;
        std::fs::read(tmp.path()).map_err(|source| Error::Io {
            path: tmp.path().to_path_buf(),
            source,
        })
    }
}
