//! Makes the objects of the guest's pre-initialised interpreter immortal, in the component file.
//!
//! `envs_wasm/guest/immortal.py` leaves, in the snapshot, the addresses of every object alive
//! at snapshot time (an `array('I')`) and a record pointing at them, framed by a 32-byte marker:
//! `MARKER, count: u32, address of the array's items: u32, MARKER` (little-endian). The
//! snapshot is the component's only memory image: active data segments at constant offsets,
//! all in one core module. This pass finds the record
//! in those segments and overwrites each listed object's reference count (the first word of a
//! `PyObject`) in place with CPython's immortal value, so no sandbox ever writes to those
//! headers (and copies their pages). Sizes and offsets are untouched: only bytes inside data
//! segments change.

use std::ops::Range;

use wasmparser::{DataKind, Operator, Parser, Payload};

/// `immortal.MARKER`: `bytes((i * 73 + 41) % 251 + 1 for i in range(32))`.
fn marker() -> [u8; 32] {
    std::array::from_fn(|i| ((i * 73 + 41) % 251 + 1) as u8)
}

/// CPython 3.12+ on 32-bit targets (wasm32): an object is immortal when `ob_refcnt >= 1 << 30`;
/// objects made immortal at run time start at `5 << 28` (`_Py_IMMORTAL_INITIAL_REFCNT`, in
/// `Include/refcount.h`); statically allocated ones are at `7 << 28`.
const IMMORTAL_MINIMUM: u32 = 1 << 30;
const IMMORTAL_INITIAL: u32 = 5 << 28;

/// One active data segment: where it lands in linear memory and where its bytes are in the file.
struct Segment {
    memory: Range<u64>,
    file: usize,
}

/// The memory image as a sorted list of segments.
struct Image {
    segments: Vec<Segment>,
}

impl Image {
    /// File offset of `len` bytes at linear-memory address `address`, if one segment holds them.
    fn locate(&self, address: u64, len: u64) -> Option<usize> {
        let i = self
            .segments
            .partition_point(|s| s.memory.start <= address)
            .checked_sub(1)?;
        let s = &self.segments[i];
        (address + len <= s.memory.end).then(|| s.file + (address - s.memory.start) as usize)
    }

    /// The little-endian word at `address`, and its file offset, if one segment holds it.
    fn word(&self, component: &[u8], address: u64) -> Option<(u32, usize)> {
        let at = self.locate(address, 4)?;
        let bytes = component.get(at..at + 4)?.try_into().ok()?;
        Some((u32::from_le_bytes(bytes), at))
    }
}

pub fn immortalize(component: &mut [u8]) -> Result<(), String> {
    let image = memory_image(component)?;
    let marker = marker();
    let mut records = Vec::new();
    for segment in &image.segments {
        let len = (segment.memory.end - segment.memory.start) as usize;
        let bytes = &component[segment.file..segment.file + len];
        for (at, window) in bytes.windows(marker.len()).enumerate() {
            if window == marker {
                let address = segment.memory.start + at as u64;
                if let Some(record) = read_record(component, &image, address, &marker) {
                    records.push(record);
                }
            }
        }
    }
    let addresses = match records.as_slice() {
        [one] => one.clone(),
        [] => {
            return Err("no object record (envs_wasm/guest/immortal.py) in the memory image".into())
        }
        _ => {
            return Err(format!(
                "{} object records in the memory image, expected one",
                records.len()
            ))
        }
    };
    for &address in &addresses {
        // A header outside every segment is all zero: not a live object.
        let Some((count, at)) = image.word(component, u64::from(address)) else {
            continue;
        };
        // Zero would be a freed object; already-immortal objects (static types, small ints,
        // `None`, ...) keep their own value, which also tells static ones apart.
        if count > 0 && count < IMMORTAL_MINIMUM {
            component[at..at + 4].copy_from_slice(&IMMORTAL_INITIAL.to_le_bytes());
        }
    }
    Ok(())
}

/// The record starting at `address`, if a well-formed one does (the marker may also occur in
/// the marker constant itself or in freed memory).
fn read_record(
    component: &[u8],
    image: &Image,
    address: u64,
    marker: &[u8; 32],
) -> Option<Vec<u32>> {
    let word = |a: u64| image.word(component, a).map(|(value, _)| value);
    let count = u64::from(word(address + 32)?);
    let items = u64::from(word(address + 36)?);
    let tail = image.locate(address + 40, 32)?;
    if component[tail..tail + 32] != marker[..] {
        return None;
    }
    (0..count).map(|i| word(items + 4 * i)).collect()
}

/// The active, constant-offset data segments of memory 0, which must all be in one core module.
fn memory_image(component: &[u8]) -> Result<Image, String> {
    let base = component.as_ptr() as usize;
    let mut segments = Vec::new();
    let mut modules_with_data = 0;
    for payload in Parser::new(0).parse_all(component) {
        let payload = payload.map_err(|e| format!("parsing the component: {e}"))?;
        let Payload::DataSection(reader) = payload else {
            continue;
        };
        let before = segments.len();
        for data in reader {
            let data = data.map_err(|e| format!("reading a data segment: {e}"))?;
            let DataKind::Active {
                memory_index: 0,
                offset_expr,
            } = data.kind
            else {
                continue;
            };
            let mut ops = offset_expr.get_operators_reader();
            let Ok(Operator::I32Const { value }) = ops.read() else {
                continue; // relocatable (`global.get __memory_base`): not part of the snapshot
            };
            let start = u64::from(value as u32);
            segments.push(Segment {
                memory: start..start + data.data.len() as u64,
                file: data.data.as_ptr() as usize - base,
            });
        }
        modules_with_data += usize::from(segments.len() > before);
    }
    if modules_with_data != 1 {
        return Err(format!(
            "expected the snapshot's data segments in exactly one core module, found {modules_with_data}"
        ));
    }
    segments.sort_by_key(|s| s.memory.start);
    if segments
        .windows(2)
        .any(|w| w[0].memory.end > w[1].memory.start)
    {
        return Err("overlapping data segments in the memory image".into());
    }
    Ok(Image { segments })
}
