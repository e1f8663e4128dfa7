pub mod basket;
pub(crate) mod branch;
pub mod floats;
pub(crate) mod leaf;
pub mod streamer_type;
pub(crate) mod tree;
pub mod wbasket;

pub use branch::Branch;
pub use tree::StateCallBack;
pub use tree::Tree;
