pub(crate) const K_IS_ON_HEAP: u32 = 0x01000000;
// pub(crate) const K_BIT_MASK: u32 = 0x00ffffff;
pub(crate) const K_IS_REFERENCED: u32 = 1 << 4;
// pub(crate) const K_HAS_UUID: u32 = 1 << 5;
