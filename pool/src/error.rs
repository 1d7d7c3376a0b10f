//! Why a job gave no value.

use std::any::Any;
use std::fmt;
use std::io;

/// Why a job's [`Completion`](crate::Completion) holds no value.
#[non_exhaustive]
pub enum JobError {
    /// The job panicked; the payload is inside.
    Panicked(Box<dyn Any + Send>),
    /// The pool shut down before the job could run.
    Shutdown,
    /// No thread could run the job: the pool had none and the OS refused to start one.
    NoThreads(io::Error),
    /// Whoever was to finish the job dropped it unfinished.
    Dropped,
}

impl JobError {
    /// The panic message, if the job panicked with a string.
    pub fn panic_message(&self) -> Option<&str> {
        match self {
            JobError::Panicked(payload) => payload
                .downcast_ref::<&str>()
                .copied()
                .or_else(|| payload.downcast_ref::<String>().map(|s| s.as_str())),
            _ => None,
        }
    }

    /// True if the job panicked.
    pub fn is_panic(&self) -> bool {
        matches!(self, JobError::Panicked(_))
    }
}

impl fmt::Debug for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(_) => f.debug_tuple("Panicked").field(&self.panic_message()).finish(),
            JobError::Shutdown => f.write_str("Shutdown"),
            JobError::NoThreads(e) => f.debug_tuple("NoThreads").field(e).finish(),
            JobError::Dropped => f.write_str("Dropped"),
        }
    }
}

impl fmt::Display for JobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JobError::Panicked(_) => match self.panic_message() {
                Some(message) => write!(f, "the job panicked: {message}"),
                None => f.write_str("the job panicked"),
            },
            JobError::Shutdown => f.write_str("the pool shut down before the job ran"),
            JobError::NoThreads(e) => write!(f, "no thread could run the job: {e}"),
            JobError::Dropped => f.write_str("the job was dropped unfinished"),
        }
    }
}

impl std::error::Error for JobError {}

impl From<JobError> for io::Error {
    fn from(e: JobError) -> io::Error {
        io::Error::other(e.to_string())
    }
}
