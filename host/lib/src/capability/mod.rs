//! The z capabilities: one module per imported interface of the WIT world.
//!
//! Each implements its interface's host trait for [`Sandbox`](crate::sandbox::Sandbox).
//! Only `http` opens connections; `stash` asks `http` for the requests it makes.

pub(crate) mod callback;
pub(crate) mod console;
pub(crate) mod cursor;
pub(crate) mod http;
pub(crate) mod hydration;
pub(crate) mod stash;

use crate::bindings::zapwasm::integration::types;
use crate::sandbox::Sandbox;

impl types::Host for Sandbox {}
