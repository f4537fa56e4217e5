//! The app's middleware: beforeRequest gets every request `z.request`
//! makes (after the defaults), afterResponse every response (before
//! throwForStatus), each list in the order the author added them.
//!
//! This is where the SDK's one recursion closes: an app's functions get a
//! [`Z`], [`Z::request`] runs the app's middleware (in
//! [`crate::lifecycle::send`]), and middleware gets a `Z` too. Its `Z`
//! refuses `z.request` (the reference platform's rule), so a middleware
//! cannot start the lifecycle it runs inside.

use crate::Bundle;

use crate::error::ZError;
use crate::request::Request;
use crate::response::Response;
use crate::z::Z;

/// beforeRequest middleware: gets every request `z.request` makes (after the
/// defaults) and returns the request to send. Its `z` refuses `z.request`.
pub type BeforeRequest = fn(Request, &Z, &Bundle) -> Result<Request, ZError>;

/// afterResponse middleware: gets every response (before throwForStatus) and
/// returns the response to hand back. Its `z` refuses `z.request`.
pub type AfterResponse = fn(Response, &Z, &Bundle) -> Result<Response, ZError>;

/// An app's middleware, each list in the order added.
#[derive(Debug, Clone, Default)]
pub(crate) struct Middleware {
    /// The beforeRequest middleware (`beforeRequest.<i>` in the definition).
    pub(crate) before_request: Vec<BeforeRequest>,
    /// The afterResponse middleware (`afterResponse.<i>` in the definition).
    pub(crate) after_response: Vec<AfterResponse>,
}

impl Middleware {
    /// Runs every beforeRequest on `request` in order; the first error stops it.
    /// `z` is the middleware's (see [`Z::for_middleware`]).
    pub(crate) fn before_request(&self, request: Request, z: &Z, bundle: &Bundle) -> Result<Request, ZError> {
        self.before_request.iter().try_fold(request, |request, middleware| middleware(request, z, bundle))
    }

    /// Runs every afterResponse on `response` in order; the first error stops it.
    pub(crate) fn after_response(&self, response: Response, z: &Z, bundle: &Bundle) -> Result<Response, ZError> {
        self.after_response.iter().try_fold(response, |response, middleware| middleware(response, z, bundle))
    }
}
