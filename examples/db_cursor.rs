//! pycos `AsyncDBCursor`: a database driver's calls block, so the cursor runs each one on the
//! blocking pool and the task awaits it. Here against SQLite (rusqlite, bundled), while a
//! second task keeps ticking to show the workers stay free.
//!
//! ```text
//! cargo run --release --example db_cursor
//! ```

#[path = "support/logging.rs"]
mod logging;

use rusqlite::Connection;
use std::io;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// A connection whose calls run on the blocking pool. The connection travels to the pool
/// thread with each call and comes back with the result, so it is never shared.
pub struct AsyncDbCursor {
    connection: Option<Connection>,
}

impl AsyncDbCursor {
    /// Opens the database at `path` (`":memory:"` for a private in-memory one).
    pub async fn open(path: &str) -> io::Result<AsyncDbCursor> {
        let path = path.to_owned();
        let connection = rycos::blocking(move || Connection::open(path)).await?.map_err(io::Error::other)?;
        Ok(AsyncDbCursor { connection: Some(connection) })
    }

    /// Runs `call` with the connection on the blocking pool.
    pub async fn run<T: Send + 'static>(
        &mut self,
        call: impl FnOnce(&mut Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> io::Result<T> {
        let mut connection =
            self.connection.take().ok_or_else(|| io::Error::other("the connection was lost"))?;
        let (connection, result) = rycos::blocking(move || {
            let result = call(&mut connection);
            (connection, result)
        })
        .await?;
        self.connection = Some(connection);
        result.map_err(io::Error::other)
    }

    /// Executes one statement (pycos `cursor.execute`); the number of rows changed.
    pub async fn execute(&mut self, sql: &'static str) -> io::Result<usize> {
        self.run(move |c| c.execute(sql, [])).await
    }
}

/// Fills a table with `rows` rows and queries it; returns (row count, sum of values, ticks the
/// other task made meanwhile).
pub async fn run(rows: u64) -> io::Result<(u64, u64, u64)> {
    {
        let ticks = Arc::new(AtomicU64::new(0));
        let ticker = {
            let ticks = ticks.clone();
            rycos::spawn(async move {
                let mut every = rycos::time::interval(Duration::from_millis(1));
                loop {
                    every.tick().await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let mut db = AsyncDbCursor::open(":memory:").await?;
        db.execute("CREATE TABLE readings (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)").await?;
        db.run(move |c| {
            let tx = c.transaction()?;
            {
                let mut insert = tx.prepare("INSERT INTO readings (value) VALUES (?1)")?;
                for i in 0..rows {
                    insert.execute([(i % 1000) as i64])?;
                }
            }
            tx.commit()
        })
        .await?;
        let (count, sum) = db
            .run(|c| {
                c.query_row("SELECT COUNT(*), SUM(value) FROM readings", [], |row| {
                    Ok((row.get::<_, i64>(0)? as u64, row.get::<_, i64>(1)? as u64))
                })
            })
            .await?;
        ticker.abort();
        Ok((count, sum, ticks.load(Ordering::Relaxed)))
    }
}

#[allow(dead_code)]
fn main() -> io::Result<()> {
    logging::init();
    let (count, sum, ticks) = rycos::block_on(run(1_000_000))?;
    println!("{count} rows, sum {sum}; the ticker ticked {ticks} times while the database worked");
    Ok(())
}
