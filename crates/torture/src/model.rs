//! The acknowledged history: what the database must hold, and the one write that may
//! or may not have landed when the writer died.

use std::collections::BTreeMap;

/// One write, as the writer announces it on its pipe.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Op {
    /// `P key value expiry_ms` (0: no expiry).
    Put(String, String, u64),
    /// `D key`.
    Del(String),
    /// `B key=value,key=~,...` (`~` deletes); all or nothing.
    Batch(Vec<(String, Option<String>)>),
}

impl Op {
    /// The wire form (no spaces inside keys or values).
    pub fn encode(&self) -> String {
        match self {
            Op::Put(k, v, e) => format!("P {k} {v} {e}"),
            Op::Del(k) => format!("D {k}"),
            Op::Batch(items) => {
                let parts: Vec<String> = items
                    .iter()
                    .map(|(k, v)| format!("{k}={}", v.as_deref().unwrap_or("~")))
                    .collect();
                format!("B {}", parts.join(","))
            }
        }
    }

    pub fn decode(s: &str) -> Option<Op> {
        let mut it = s.split(' ');
        match it.next()? {
            "P" => Some(Op::Put(
                it.next()?.to_owned(),
                it.next()?.to_owned(),
                it.next()?.parse().ok()?,
            )),
            "D" => Some(Op::Del(it.next()?.to_owned())),
            "B" => {
                let items = it
                    .next()?
                    .split(',')
                    .map(|kv| {
                        let (k, v) = kv.split_once('=')?;
                        Some((k.to_owned(), (v != "~").then(|| v.to_owned())))
                    })
                    .collect::<Option<Vec<_>>>()?;
                Some(Op::Batch(items))
            }
            _ => None,
        }
    }

    /// Keys this write touches.
    pub fn keys(&self) -> Vec<&str> {
        match self {
            Op::Put(k, _, _) | Op::Del(k) => vec![k.as_str()],
            Op::Batch(items) => items.iter().map(|(k, _)| k.as_str()).collect(),
        }
    }
}

/// Key -> (value, expiry ms or 0).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Model {
    pub map: BTreeMap<String, (String, u64)>,
}

impl Model {
    /// Applies a write; a put whose expiry is already past is a delete.
    pub fn apply(&mut self, op: &Op, now_ms: u64) {
        match op {
            Op::Put(k, v, e) => {
                if *e != 0 && *e <= now_ms {
                    self.map.remove(k);
                } else {
                    self.map.insert(k.clone(), (v.clone(), *e));
                }
            }
            Op::Del(k) => {
                self.map.remove(k);
            }
            Op::Batch(items) => {
                for (k, v) in items {
                    match v {
                        Some(v) => self.map.insert(k.clone(), (v.clone(), 0)),
                        None => self.map.remove(k),
                    };
                }
            }
        }
    }

    pub fn get(&self, k: &str) -> Option<&str> {
        self.map.get(k).map(|(v, _)| v.as_str())
    }
}

/// Compares what the database shows with the model, allowing the pending write to be
/// wholly applied or wholly absent. Returns the model that matched (the new truth) or
/// the violations found.
pub fn resolve(
    acked: &Model,
    pending: Option<&Op>,
    now_ms: u64,
    read: &mut dyn FnMut(&str) -> Option<String>,
    all_keys: &[String],
) -> Result<Model, Vec<String>> {
    let mut candidates = vec![acked.clone()];
    if let Some(op) = pending {
        let mut after = acked.clone();
        after.apply(op, now_ms);
        candidates.push(after);
    }
    let mut keys: Vec<String> = acked.map.keys().cloned().collect();
    if let Some(op) = pending {
        keys.extend(op.keys().into_iter().map(str::to_owned));
    }
    keys.extend(all_keys.iter().cloned());
    keys.sort();
    keys.dedup();
    let seen: BTreeMap<String, Option<String>> =
        keys.iter().map(|k| (k.clone(), read(k))).collect();
    let mut errors = Vec::new();
    for c in &candidates {
        errors.clear();
        for (k, got) in &seen {
            let want = c.get(k);
            if got.as_deref() != want {
                errors.push(format!(
                    "{k}: database has {got:?}, acknowledged history says {want:?}"
                ));
            }
        }
        if errors.is_empty() {
            return Ok(c.clone());
        }
    }
    Err(errors)
}
