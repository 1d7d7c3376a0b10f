//! Files on the blocking pool: round trips, large files, seeks mixed with buffered reads and
//! writes, lines, and errors.
mod common;
use common::*;

use futures::StreamExt;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use rycos::fs::{self, File};
use std::io::{ErrorKind, SeekFrom};
use std::path::PathBuf;
use std::time::Duration;

/// A fresh path in the temp directory, removed when dropped.
struct TempPath(PathBuf);

impl TempPath {
    fn new(name: &str) -> TempPath {
        TempPath(std::env::temp_dir().join(format!("rycos-fs-{}-{name}", std::process::id())))
    }
}

impl Drop for TempPath {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[test]
fn a_large_file_round_trips_through_small_writes_and_reads() {
    let _w = watchdog(Duration::from_secs(60));
    let rt = rt(2);
    let path = TempPath::new("large");
    let data = pattern(20 << 20);
    let written = data.clone();
    let p = path.0.clone();
    let read_back = rt.block_on(async move {
        let mut file = File::create(&p).await?;
        for piece in written.chunks(1000) {
            file.write_all(piece).await?;
        }
        file.close().await?;
        let mut back = Vec::new();
        let mut file = File::open(&p).await?;
        let mut piece = [0u8; 777];
        loop {
            let n = file.read(&mut piece).await?;
            if n == 0 {
                break;
            }
            back.extend_from_slice(&piece[..n]);
        }
        std::io::Result::Ok(back)
    });
    let read_back = read_back.unwrap();
    assert_eq!(read_back.len(), data.len());
    assert!(read_back == data, "contents differ");
    assert_eq!(std::fs::read(&path.0).unwrap(), data, "what the OS has");
}

#[test]
fn seeks_mix_with_read_ahead_and_gathered_writes() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let path = TempPath::new("seek");
    std::fs::write(&path.0, b"0123456789abcdefghij").unwrap();
    let p = path.0.clone();
    rt.block_on(async move {
        let mut options = std::fs::OpenOptions::new();
        options.read(true).write(true);
        let mut file = File::open_with(&p, &options).await.unwrap();
        let mut two = [0u8; 2];
        file.read_exact(&mut two).await.unwrap(); // reads ahead the whole file
        assert_eq!(&two, b"01");
        // The write lands right after what was read, not after the read-ahead.
        file.write_all(b"XY").await.unwrap();
        file.flush().await.unwrap();
        assert_eq!(file.seek(SeekFrom::Current(0)).await.unwrap(), 4);
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"45");
        assert_eq!(file.seek(SeekFrom::Current(-3)).await.unwrap(), 3);
        file.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"Y4");
        assert_eq!(file.seek(SeekFrom::End(-2)).await.unwrap(), 18);
        let mut rest = String::new();
        file.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "ij");
        assert_eq!(file.seek(SeekFrom::Start(0)).await.unwrap(), 0);
        file.write_all(b"__").await.unwrap();
        file.set_len(10).await.unwrap();
        assert_eq!(file.metadata().await.unwrap().len(), 10);
        file.sync_all().await.unwrap();
    });
    assert_eq!(std::fs::read(&path.0).unwrap(), b"__XY456789");
}

#[test]
fn lines_and_whole_file_helpers() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let path = TempPath::new("lines");
    let p = path.0.clone();
    rt.block_on(async move {
        let text: String = (0..5000).map(|i| format!("line {i}\n")).collect();
        fs::write(&p, text.clone()).await.unwrap();
        assert_eq!(fs::read_to_string(&p).await.unwrap(), text);
        assert_eq!(fs::read(&p).await.unwrap().len(), text.len());
        assert_eq!(fs::metadata(&p).await.unwrap().len(), text.len() as u64);
        let lines: Vec<String> = futures::io::BufReader::new(File::open(&p).await.unwrap())
            .lines()
            .map(|l| l.unwrap())
            .collect()
            .await;
        assert_eq!(lines.len(), 5000);
        assert_eq!(lines[4999], "line 4999");
        fs::remove_file(&p).await.unwrap();
        assert_eq!(fs::remove_file(&p).await.unwrap_err().kind(), ErrorKind::NotFound);
    });
}

#[test]
fn missing_files_directories_and_permissions_give_clear_errors() {
    let _w = watchdog(Duration::from_secs(30));
    let rt = rt(2);
    let locked = TempPath::new("locked");
    std::fs::write(&locked.0, b"secret").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&locked.0, std::fs::Permissions::from_mode(0o000)).unwrap();
    let locked_path = locked.0.clone();
    rt.block_on(async move {
        let missing = File::open("/nonexistent/rycos/file").await.unwrap_err();
        assert_eq!(missing.kind(), ErrorKind::NotFound);
        let dir = File::create(std::env::temp_dir()).await.unwrap_err();
        assert_eq!(dir.kind(), ErrorKind::IsADirectory);
        // Root ignores file modes; a read-only kernel attribute refuses root too.
        let denied = match File::open(&locked_path).await {
            Err(e) => e,
            Ok(_) => File::create("/sys/kernel/uevent_seqnum").await.expect_err("a read-only attribute"),
        };
        assert_eq!(denied.kind(), ErrorKind::PermissionDenied);
    });
}

#[test]
fn bytes_written_but_not_flushed_reach_the_file_after_a_drop() {
    let _w = watchdog(Duration::from_secs(30));
    let path = TempPath::new("unflushed");
    let p = path.0.clone();
    {
        let rt = rt(2);
        rt.block_on(async move {
            let mut file = File::create(&p).await.unwrap();
            file.write_all(&pattern(200_000)).await.unwrap(); // some in flight, some gathered
            file.write_all(b"tail").await.unwrap();
        }); // dropped unflushed
    } // and the runtime with it
    let mut expected = pattern(200_000);
    expected.extend_from_slice(b"tail");
    // The background write has no one to signal; look until it lands (bounded).
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while std::fs::read(&path.0).map(|b| b.len()).unwrap_or(0) < expected.len()
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(std::fs::read(&path.0).unwrap() == expected, "every byte written arrived, in order");
}
