//! Services a runtime carries for the layers above it (the name registry now, a node later),
//! without the runtime knowing their types: one value per type, made on first use, dropped with
//! the runtime.

use parking_lot::Mutex;
use std::any::{Any, TypeId};
use std::sync::Arc;

#[derive(Default)]
pub(crate) struct Services {
    /// Few entries (one per kind of service): a list beats a map.
    entries: Mutex<Vec<(TypeId, Arc<dyn Any + Send + Sync>)>>,
}

impl Services {
    /// The runtime's `T`, made with `T::default()` the first time it is asked for.
    pub(crate) fn get<T: Default + Send + Sync + 'static>(&self) -> Arc<T> {
        let id = TypeId::of::<T>();
        let mut entries = self.entries.lock();
        let any = match entries.iter().find(|(t, _)| *t == id) {
            Some((_, service)) => service.clone(),
            None => {
                let service: Arc<dyn Any + Send + Sync> = Arc::new(T::default());
                entries.push((id, service.clone()));
                service
            }
        };
        any.downcast().unwrap_or_else(|_| unreachable!("stored under its own type id"))
    }
}
