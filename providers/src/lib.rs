//! vnx's providers: the only code that touches the outside world (the kernel through netlink,
//! namespaces, libvirt).
//!
//! Not written yet: the provider traits, the `net` provider (rtnetlink), the `ns` node
//! provider and the `libvirt` provider come with the reconciler (see `ARCHITECTURE.md`).
//! Nothing uses this crate so far.
