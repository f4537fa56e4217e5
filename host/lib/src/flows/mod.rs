//! The flows that span calls, built on the state traits: a callback
//! resumed days after the call that asked for it (`callbacks`). Each adds
//! its steps to [`App`](crate::App) or [`Host`](crate::Host); an embedder's
//! receiver (or `zapwasm serve`) only wires them to HTTP.

pub(crate) mod callbacks;
