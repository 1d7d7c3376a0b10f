//! Names registered in a runtime. Channels are found by name here (pycos `Channel.locate`);
//! the registry holds only weak references, so a name lives exactly as long as its owner.

use parking_lot::Mutex;
use std::any::Any;
use std::collections::HashMap;
use std::collections::hash_map::Entry;
use std::sync::{Arc, Weak};

type Named = Weak<dyn Any + Send + Sync>;

#[derive(Default)]
pub(crate) struct Registry {
    channels: Mutex<HashMap<Arc<str>, Named>>,
}

impl Registry {
    /// Registers `value` under `name`, unless a live value holds the name already.
    pub(crate) fn register_channel(&self, name: &Arc<str>, value: Named) -> bool {
        let mut channels = self.channels.lock();
        match channels.entry(name.clone()) {
            Entry::Occupied(mut taken) => {
                if taken.get().strong_count() > 0 {
                    return false;
                }
                taken.insert(value);
            }
            Entry::Vacant(free) => {
                free.insert(value);
            }
        }
        true
    }

    /// The value registered under `name`, if it is still alive.
    pub(crate) fn channel(&self, name: &str) -> Option<Arc<dyn Any + Send + Sync>> {
        self.channels.lock().get(name)?.upgrade()
    }

    /// Frees `name` if it still belongs to `owner` (compared by address).
    pub(crate) fn unregister_channel(&self, name: &str, owner: *const ()) {
        let mut channels = self.channels.lock();
        if channels.get(name).is_some_and(|w| w.as_ptr() as *const () == owner) {
            channels.remove(name);
        }
    }
}
