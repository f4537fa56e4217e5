//! Host work a guest waits on (its request, while `z.request` blocks),
//! polled by the call's own task beside the guest rather than on the
//! guest's fiber or as a task of its own.
//!
//! A host import is polled on the call's fiber stack, so whatever it polls
//! (the HTTP client, hyper) would leave its frames resident there while the call
//! waits. Spawning the work as a task kept them off the fiber but cost a
//! task per request: the spawn, a wake of another runtime thread to steal
//! it, and the answer crossing back (BENCHMARKS.md, "The request beside
//! the guest"). Here the import hands its work to the call's [`Beside`]
//! and waits; [`Beside::drive`], which wraps the guest's future, polls the
//! work on the task's own stack and resumes the guest once it is done.
//! While the work runs the guest cannot move (it is blocked in the
//! import), so the task polls only the work until it finishes.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;
use std::task::{Context, Poll};

/// Work handed over by an import.
pub(crate) type Work<T> = Pin<Box<dyn Future<Output = T> + Send + 'static>>;

/// The one piece of work a call's guest waits on, if any.
pub(crate) struct Beside<T> {
    state: Mutex<State<T>>,
}

enum State<T> {
    Idle,
    Running(Work<T>),
    Done(T),
}

impl<T> Default for Beside<T> {
    fn default() -> Beside<T> {
        Beside { state: Mutex::new(State::Idle) }
    }
}

impl<T> Beside<T> {
    fn state(&self) -> std::sync::MutexGuard<'_, State<T>> {
        // A poisoned lock only means a poll panicked; the state is whole.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Hand `work` to the task driving the guest and wait for its output.
    /// Awaited on the guest's fiber, inside a future that
    /// [`drive`](Beside::drive) polls; dropping it drops the work.
    pub(crate) async fn run(&self, work: Work<T>) -> T {
        *self.state() = State::Running(work);
        let _clear = Clear(self);
        std::future::poll_fn(|_| {
            let mut state = self.state();
            match std::mem::replace(&mut *state, State::Idle) {
                State::Done(output) => Poll::Ready(output),
                other => {
                    *state = other;
                    Poll::Pending
                }
            }
        })
        .await
    }

    /// Poll `guest`, and the work it hands over while it waits, on the
    /// caller's task. Work left when this future is dropped (the call's
    /// deadline) is dropped with it.
    ///
    /// A future of its own type, not an `async fn`: one of those would keep
    /// `guest` twice, as its argument and as the local it is pinned in.
    pub(crate) fn drive<F: Future>(&self, guest: F) -> Driven<'_, T, F> {
        Driven { guest, clear: Clear(self) }
    }

    /// Poll the running work: ready when there is none (or it just ended).
    fn poll_work(&self, cx: &mut Context<'_>) -> Poll<()> {
        let mut state = self.state();
        let State::Running(work) = &mut *state else { return Poll::Ready(()) };
        match work.as_mut().poll(cx) {
            Poll::Ready(output) => {
                let finished = std::mem::replace(&mut *state, State::Done(output));
                drop(state);
                drop(finished);
                Poll::Ready(())
            }
            Poll::Pending => Poll::Pending,
        }
    }

    fn running(&self) -> bool {
        matches!(*self.state(), State::Running(_))
    }
}

pin_project_lite::pin_project! {
    /// The guest's future and the work it hands over, polled together
    /// ([`Beside::drive`]).
    pub(crate) struct Driven<'a, T, F> {
        #[pin]
        guest: F,
        clear: Clear<'a, T>,
    }
}

impl<T, F: Future> Future for Driven<'_, T, F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let mut this = self.project();
        let beside = this.clear.0;
        loop {
            if beside.poll_work(cx).is_pending() {
                // The guest is blocked in the import until the work ends.
                return Poll::Pending;
            }
            match this.guest.as_mut().poll(cx) {
                Poll::Ready(output) => return Poll::Ready(output),
                // Work handed over during that poll: start it now.
                Poll::Pending if beside.running() => continue,
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

/// Drops whatever work is left in a [`Beside`] when dropped itself.
struct Clear<'a, T>(&'a Beside<T>);

impl<T> Drop for Clear<'_, T> {
    fn drop(&mut self) {
        let left = std::mem::replace(&mut *self.0.state(), State::Idle);
        drop(left);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    #[tokio::test]
    async fn work_handed_over_is_polled_beside_the_guest_and_its_output_reaches_it() {
        let beside = Beside::<u32>::default();
        let guest = async {
            let first = beside.run(Box::pin(async { 1 })).await;
            let second = beside
                .run(Box::pin(async {
                    tokio::task::yield_now().await;
                    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
                    2
                }))
                .await;
            first + second
        };
        assert_eq!(beside.drive(guest).await, 3);
        assert!(!beside.running());
    }

    #[tokio::test]
    async fn work_left_when_the_guest_is_dropped_is_dropped_with_it() {
        struct Flag(Arc<AtomicBool>);
        impl Drop for Flag {
            fn drop(&mut self) {
                self.0.store(true, Ordering::SeqCst);
            }
        }
        let dropped = Arc::new(AtomicBool::new(false));
        let beside = Beside::<()>::default();
        let flag = Flag(dropped.clone());
        let guest = beside.run(Box::pin(async move {
            let _flag = flag;
            std::future::pending::<()>().await
        }));
        let timed_out = tokio::time::timeout(std::time::Duration::from_millis(10), beside.drive(guest)).await;
        assert!(timed_out.is_err());
        assert!(dropped.load(Ordering::SeqCst), "the work was dropped with the call");
        assert!(!beside.running());
    }
}
