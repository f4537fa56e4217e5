//! A stand-in for the host's `http` import in native tests: records every
//! wire request and answers with a function of it.

use std::cell::RefCell;
use std::rc::Rc;

use crate::bindings::zapwasm::integration::http as wire;
use crate::error::ZError;
use crate::lifecycle::Transport;

/// Answers a wire request.
pub(crate) type Answer = fn(&wire::Request) -> Result<wire::Response, ZError>;

/// Records requests and answers them with `answer`.
pub(crate) struct FakeHttp {
    /// Every request sent, in order.
    pub(crate) sent: Rc<RefCell<Vec<wire::Request>>>,
    answer: Answer,
}

impl FakeHttp {
    /// A fake answering with `answer`, and the log of what was sent to it.
    pub(crate) fn new(answer: Answer) -> (FakeHttp, Rc<RefCell<Vec<wire::Request>>>) {
        let sent = Rc::new(RefCell::new(Vec::new()));
        let fake = FakeHttp { sent: Rc::clone(&sent), answer };
        (fake, sent)
    }
}

impl Transport for FakeHttp {
    fn send(&self, request: &wire::Request) -> Result<wire::Response, ZError> {
        self.sent.borrow_mut().push(request.clone());
        (self.answer)(request)
    }

    fn send_all(&self, requests: &[wire::Request]) -> Vec<Result<wire::Response, ZError>> {
        requests.iter().map(|request| self.send(request)).collect()
    }
}

/// A response with this status, content type and body, at the request's URL.
pub(crate) fn answer(request: &wire::Request, status: u16, content_type: &str, body: &str) -> wire::Response {
    wire::Response {
        status,
        url: request.url.clone(),
        redirected: false,
        headers: vec![("content-type".to_string(), content_type.to_string())],
        body: body.as_bytes().to_vec(),
    }
}
