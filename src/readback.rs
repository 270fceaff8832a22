//! Reading buffers back to the host: a copy into a staging buffer, its map, and a future
//! that resolves with the bytes (awaited in a browser, waited on natively). Apart from
//! `gpu` so that the device context does not depend on the tensors that read through it.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};

use crate::error::{Error, Result};
use crate::gpu::{Gpu, Health};

/// Records a copy of `size` bytes of `buffer` from `offset` into a new staging buffer,
/// submits it and asks for the map; the caller waits or awaits.
pub(crate) fn start(
    gpu: &Gpu,
    buffer: &wgpu::Buffer,
    offset: u64,
    size: u64,
) -> Result<PendingRead> {
    let staging = gpu.scoped(&|| "allocating a readback buffer".into(), || {
        gpu.device().create_buffer(&wgpu::BufferDescriptor {
            label: Some("wgpu-activations/readback"),
            size,
            usage: wgpu::BufferUsages::MAP_READ | wgpu::BufferUsages::COPY_DST,
            mapped_at_creation: false,
        })
    })?;
    let index = gpu.scoped(&|| "recording a readback".into(), || {
        let mut encoder = gpu.encoder("wgpu-activations/readback");
        encoder.copy_buffer_to_buffer(buffer, offset, &staging, 0, size);
        gpu.queue().submit([encoder.finish()])
    })?;
    let state = Arc::new(Mutex::new(MapState::default()));
    let callback_state = Arc::clone(&state);
    staging.slice(..).map_async(wgpu::MapMode::Read, move |r| {
        let mut s = callback_state.lock().unwrap_or_else(|p| p.into_inner());
        s.result = Some(r);
        if let Some(w) = s.waker.take() {
            w.wake();
        }
    });
    Ok(PendingRead {
        index,
        staging,
        device: gpu.device().clone(),
        state,
        health: gpu.health_handle(),
    })
}

/// Copies `size` bytes of `buffer` from `offset` to the host, waiting for them. Native
/// only (a browser cannot block).
#[cfg(not(target_arch = "wasm32"))]
pub(crate) fn read(gpu: &Gpu, buffer: &wgpu::Buffer, offset: u64, size: u64) -> Result<Vec<u8>> {
    if size == 0 {
        return Ok(Vec::new());
    }
    let pending = start(gpu, buffer, offset, size)?;
    gpu.wait(pending.index.clone())?;
    pending.finish_now()
}

/// A submitted copy into a staging buffer, waiting for its map.
pub(crate) struct PendingRead {
    /// What a native blocking read waits for; a browser's readback only awaits the map.
    #[cfg_attr(target_arch = "wasm32", allow(dead_code))]
    pub index: wgpu::SubmissionIndex,
    pub staging: wgpu::Buffer,
    pub device: wgpu::Device,
    pub state: Arc<Mutex<MapState>>,
    pub health: Health,
}

#[derive(Default)]
pub(crate) struct MapState {
    pub result: Option<std::result::Result<(), wgpu::BufferAsyncError>>,
    pub waker: Option<Waker>,
}

impl PendingRead {
    fn bytes(&self, mapped: std::result::Result<(), wgpu::BufferAsyncError>) -> Result<Vec<u8>> {
        let err = |message: String| Error::Readback {
            what: "tensor",
            message,
        };
        mapped.map_err(|e| err(e.to_string()))?;
        let bytes = self
            .staging
            .slice(..)
            .get_mapped_range()
            .map_err(|e| err(e.to_string()))?
            .to_vec();
        self.staging.unmap();
        Ok(bytes)
    }

    /// After the submission finished: the bytes. Another thread's poll may be delivering
    /// this map's callback right now, so wait for it (it is due, not pending on the GPU).
    #[cfg(not(target_arch = "wasm32"))]
    pub(crate) fn finish_now(self) -> Result<Vec<u8>> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
        loop {
            if let Some(mapped) = self
                .state
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .result
                .take()
            {
                return self.bytes(mapped);
            }
            if std::time::Instant::now() > deadline {
                return Err(Error::Readback {
                    what: "tensor",
                    message: "the map callback never ran".into(),
                });
            }
            let _ = self.device.poll(wgpu::PollType::Poll);
            std::thread::yield_now();
        }
    }

    pub(crate) async fn finish(self) -> Result<Vec<u8>> {
        let mapped = MapFuture {
            state: Arc::clone(&self.state),
            device: self.device.clone(),
        }
        .await;
        let bytes = self.bytes(mapped)?;
        // In a browser a scope's verdict on this copy (or an earlier call) arrives before
        // the map does: report it with the bytes it concerns, as natively.
        self.health.check()?;
        Ok(bytes)
    }
}

struct MapFuture {
    state: Arc<Mutex<MapState>>,
    device: wgpu::Device,
}

impl Future for MapFuture {
    type Output = std::result::Result<(), wgpu::BufferAsyncError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        // Natively nothing runs map callbacks unless someone polls the device: do it here,
        // without waiting. On the web the browser runs them; polling is a no-op there.
        let _ = self.device.poll(wgpu::PollType::Poll);
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(result) = state.result.take() {
            return Poll::Ready(result);
        }
        state.waker = Some(cx.waker().clone());
        drop(state);
        if !cfg!(target_arch = "wasm32") {
            // Ask to be polled again: the GPU finishes on its own, but only a poll of the
            // device delivers the callback.
            std::thread::yield_now();
            cx.waker().wake_by_ref();
        }
        Poll::Pending
    }
}
