//! A write-ahead log with group commit.
//!
//! Records are framed as `[length u32][checksum u32][payload]`. One writer thread
//! takes every record waiting, writes them, and syncs once (`fdatasync`) for the
//! whole group before any of them is acknowledged: many concurrent appends cost
//! one sync. On open, the log is read back up to the first torn or corrupt frame,
//! which is cut off (a crash in the middle of a write).
//!
//! `Durability::Buffered` is a planted bug: records sit in a buffer inside the
//! process and are acknowledged without reaching the kernel, so `kill -9` loses
//! acknowledged writes.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;
use std::sync::mpsc;
use tokio::sync::oneshot;

/// How appends reach the disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// Written and synced before acknowledged.
    Sync,
    /// Acknowledged from an in-process buffer (the `no-fsync` bug).
    Buffered,
}

struct Append {
    records: Vec<Vec<u8>>,
    done: oneshot::Sender<io::Result<()>>,
}

/// A handle to the log; cloning shares the writer.
#[derive(Clone)]
pub struct Wal {
    sender: mpsc::Sender<Append>,
}

/// FNV-1a: enough to tell a torn or garbled frame from a whole one.
fn checksum(payload: &[u8]) -> u32 {
    payload.iter().fold(0x811c_9dc5u32, |hash, &byte| {
        (hash ^ u32::from(byte)).wrapping_mul(0x0100_0193)
    })
}

impl Wal {
    /// Opens (or creates) the log at `path` and returns it with the records it
    /// already holds, in order.
    ///
    /// # Errors
    /// I/O errors opening, reading or truncating the file.
    pub fn open(path: &Path, durability: Durability) -> io::Result<(Wal, Vec<Vec<u8>>)> {
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes)?;
        let mut records = Vec::new();
        let mut offset = 0usize;
        while offset + 8 <= bytes.len() {
            let length =
                u32::from_le_bytes(bytes[offset..offset + 4].try_into().expect("4 bytes")) as usize;
            let sum =
                u32::from_le_bytes(bytes[offset + 4..offset + 8].try_into().expect("4 bytes"));
            let Some(payload) = bytes.get(offset + 8..offset + 8 + length) else {
                break;
            };
            if checksum(payload) != sum {
                break;
            }
            records.push(payload.to_vec());
            offset += 8 + length;
        }
        if offset < bytes.len() {
            // A torn tail from a crash mid-write: cut it off.
            file.set_len(offset as u64)?;
            file.seek(SeekFrom::End(0))?;
            file.sync_all()?;
        }
        let (sender, receiver) = mpsc::channel::<Append>();
        std::thread::Builder::new()
            .name("wal-writer".to_string())
            .spawn(move || write_loop(file, receiver, durability))?;
        Ok((Wal { sender }, records))
    }

    /// Appends records and returns once they are durable (under `Sync`).
    ///
    /// # Errors
    /// The write or sync error, for every record of the group.
    pub async fn append(&self, records: Vec<Vec<u8>>) -> io::Result<()> {
        self.submit(records).wait().await
    }

    /// Queues records now, in call order, and returns a handle to wait for their
    /// durability later: callers that must log in a given order submit under
    /// their own lock and wait after releasing it.
    pub fn submit(&self, records: Vec<Vec<u8>>) -> Pending {
        let (done, wait) = oneshot::channel();
        let sent = self.sender.send(Append { records, done }).is_ok();
        Pending { wait, sent }
    }
}

/// Records submitted to the log, not yet known to be durable.
pub struct Pending {
    wait: oneshot::Receiver<io::Result<()>>,
    sent: bool,
}

impl Pending {
    /// Waits until the records are durable.
    ///
    /// # Errors
    /// The write or sync error.
    pub async fn wait(self) -> io::Result<()> {
        if !self.sent {
            return Err(io::Error::other("the log writer has stopped"));
        }
        self.wait
            .await
            .map_err(|_| io::Error::other("the log writer has stopped"))?
    }
}

fn write_loop(file: File, receiver: mpsc::Receiver<Append>, durability: Durability) {
    // Under `Buffered`, a large buffer keeps acknowledged records in the process.
    let mut writer = BufWriter::with_capacity(1 << 20, file);
    while let Ok(first) = receiver.recv() {
        let mut group = vec![first];
        group.extend(receiver.try_iter());
        let mut result = Ok(());
        for append in &group {
            for payload in &append.records {
                let frame_head = [
                    (payload.len() as u32).to_le_bytes(),
                    checksum(payload).to_le_bytes(),
                ]
                .concat();
                result = result
                    .and_then(|()| writer.write_all(&frame_head))
                    .and_then(|()| writer.write_all(payload));
            }
        }
        if durability == Durability::Sync {
            result = result
                .and_then(|()| writer.flush())
                .and_then(|()| writer.get_ref().sync_data());
        }
        for append in group {
            let _ = append.done.send(match &result {
                Ok(()) => Ok(()),
                Err(error) => Err(io::Error::new(error.kind(), error.to_string())),
            });
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn records_survive_reopen_and_a_torn_tail_is_cut() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("wal");
        {
            let (wal, records) = Wal::open(&path, Durability::Sync).unwrap();
            assert!(records.is_empty());
            wal.append(vec![b"one".to_vec(), b"two".to_vec()])
                .await
                .unwrap();
            wal.append(vec![b"three".to_vec()]).await.unwrap();
        }
        // A crash mid-write leaves half a frame.
        let mut file = OpenOptions::new().append(true).open(&path).unwrap();
        file.write_all(&[9, 0, 0, 0, 1, 2]).unwrap();
        drop(file);
        let (wal, records) = Wal::open(&path, Durability::Sync).unwrap();
        assert_eq!(
            records,
            vec![b"one".to_vec(), b"two".to_vec(), b"three".to_vec()]
        );
        wal.append(vec![b"four".to_vec()]).await.unwrap();
        drop(wal);
        let (_, records) = Wal::open(&path, Durability::Sync).unwrap();
        assert_eq!(records.len(), 4);
    }

    #[tokio::test]
    async fn concurrent_appends_are_grouped() {
        let dir = tempfile::tempdir().unwrap();
        let (wal, _) = Wal::open(&dir.path().join("wal"), Durability::Sync).unwrap();
        let appends = (0..200u32).map(|index| {
            let wal = wal.clone();
            tokio::spawn(async move { wal.append(vec![index.to_le_bytes().to_vec()]).await })
        });
        for append in appends {
            append.await.unwrap().unwrap();
        }
        drop(wal);
        let (_, records) = Wal::open(&dir.path().join("wal"), Durability::Sync).unwrap();
        assert_eq!(records.len(), 200);
    }
}
