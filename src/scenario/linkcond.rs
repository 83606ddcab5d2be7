//! Link conditions, VNX's `bw`, `delay` and `loss` attributes, parsed into the numbers that
//! tc's tbf and netem take. VNX only applied them inside Debian guests and dropped bad
//! values silently; vnx checks them at validation and applies them on the host side.

/// `bw="RATE[,BURST,LATENCY|LIMIT]"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Bandwidth {
    pub bits_per_sec: u64,
    /// Burst in bytes, when given.
    pub burst_bytes: Option<u64>,
    /// tbf latency in microseconds, when the third field is a time.
    pub latency_us: Option<u64>,
    /// tbf limit in bytes, when the third field is a size.
    pub limit_bytes: Option<u64>,
}

/// `delay="D[,JITTER[,CORRELATION%|DISTRIBUTION]]"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Delay {
    pub delay_us: u64,
    pub jitter_us: Option<u64>,
    pub correlation_pct: Option<f64>,
    pub distribution: Option<String>,
}

/// `loss="L%[,CORRELATION%]"`.
#[derive(Clone, Debug, PartialEq)]
pub struct Loss {
    pub pct: f64,
    pub correlation_pct: Option<f64>,
}

fn split_num(s: &str) -> (&str, &str) {
    let i = s.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(s.len());
    (&s[..i], s[i..].trim())
}

/// A rate with tc's units (bit, kbit, …, or bps, kbps, … for bytes per second).
pub fn parse_rate(s: &str) -> Result<u64, String> {
    let (n, unit) = split_num(s.trim());
    let n: f64 = n.parse().map_err(|_| format!("`{s}` is not a rate such as 10mbit"))?;
    let mult: f64 = match unit.to_ascii_lowercase().as_str() {
        "bit" => 1.0,
        "kbit" => 1e3,
        "mbit" => 1e6,
        "gbit" => 1e9,
        "tbit" => 1e12,
        "bps" => 8.0,
        "kbps" => 8e3,
        "mbps" => 8e6,
        "gbps" => 8e9,
        "tbps" => 8e12,
        "" => {
            return Err(format!(
                "`{s}` has no unit: write it as {n}kbit, {n}mbit, ... (tc reads a bare number as bytes)"
            ))
        }
        u => {
            return Err(format!("`{u}` is not a rate unit (bit, kbit, mbit, gbit, tbit, bps, kbps, mbps, gbps, tbps)"))
        }
    };
    let r = n * mult;
    if r < 1.0 {
        return Err(format!("`{s}` is too small a rate"));
    }
    Ok(r as u64)
}

/// A time with tc's units; microseconds.
pub fn parse_time(s: &str) -> Result<u64, String> {
    let (n, unit) = split_num(s.trim());
    let n: f64 = n.parse().map_err(|_| format!("`{s}` is not a time such as 10ms"))?;
    let mult = match unit {
        "s" | "sec" | "secs" => 1e6,
        "ms" | "msec" | "msecs" => 1e3,
        "us" | "usec" | "usecs" | "" => 1.0,
        u => return Err(format!("`{u}` is not a time unit (s, ms, us)")),
    };
    Ok((n * mult) as u64)
}

/// A size with tc's units; bytes.
pub fn parse_size(s: &str) -> Result<u64, String> {
    let (n, unit) = split_num(s.trim());
    let n: f64 = n.parse().map_err(|_| format!("`{s}` is not a size such as 32kb"))?;
    let mult = match unit.to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kb" => 1024.0,
        "m" | "mb" => 1024.0 * 1024.0,
        "g" | "gb" => 1024.0 * 1024.0 * 1024.0,
        "kbit" => 128.0,
        "mbit" => 128.0 * 1024.0,
        "gbit" => 128.0 * 1024.0 * 1024.0,
        u => return Err(format!("`{u}` is not a size unit (b, kb, mb, gb, kbit, mbit, gbit)")),
    };
    Ok((n * mult) as u64)
}

fn parse_pct(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let n = t.strip_suffix('%').ok_or_else(|| format!("`{t}` is not a percentage: write it as {t}%"))?;
    let v: f64 = n.trim().parse().map_err(|_| format!("`{t}` is not a percentage"))?;
    if !(0.0..=100.0).contains(&v) {
        return Err(format!("`{t}` is not between 0% and 100%"));
    }
    Ok(v)
}

pub fn parse_bw(s: &str) -> Result<Bandwidth, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [rate] => {
            Ok(Bandwidth { bits_per_sec: parse_rate(rate)?, burst_bytes: None, latency_us: None, limit_bytes: None })
        }
        [rate, burst, third] => {
            let (_, unit) = split_num(third);
            let is_time = matches!(unit, "s" | "sec" | "secs" | "ms" | "msec" | "msecs" | "us" | "usec" | "usecs");
            Ok(Bandwidth {
                bits_per_sec: parse_rate(rate)?,
                burst_bytes: Some(parse_size(burst)?),
                latency_us: if is_time { Some(parse_time(third)?) } else { None },
                limit_bytes: if is_time { None } else { Some(parse_size(third)?) },
            })
        }
        _ => Err(format!("`{s}` is not a bandwidth: write RATE (10mbit) or RATE,BURST,LATENCY (10mbit,32kb,50ms)")),
    }
}

pub fn parse_delay(s: &str) -> Result<Delay, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    let mut d = Delay { delay_us: 0, jitter_us: None, correlation_pct: None, distribution: None };
    match parts.as_slice() {
        [delay, rest @ ..] if rest.len() <= 2 => {
            d.delay_us = parse_time(delay)?;
            if let Some(j) = rest.first() {
                d.jitter_us = Some(parse_time(j)?);
            }
            if let Some(third) = rest.get(1) {
                if matches!(*third, "uniform" | "normal" | "pareto" | "paretonormal") {
                    d.distribution = Some(third.to_string());
                } else {
                    d.correlation_pct = Some(parse_pct(third)?);
                }
            }
            Ok(d)
        }
        _ => Err(format!("`{s}` is not a delay: write D, D,JITTER or D,JITTER,CORRELATION% (100ms,10ms,25%)")),
    }
}

pub fn parse_loss(s: &str) -> Result<Loss, String> {
    let parts: Vec<&str> = s.split(',').map(str::trim).collect();
    match parts.as_slice() {
        [l] => Ok(Loss { pct: parse_pct(l)?, correlation_pct: None }),
        [l, c] => Ok(Loss { pct: parse_pct(l)?, correlation_pct: Some(parse_pct(c)?) }),
        _ => Err(format!("`{s}` is not a loss: write L% or L%,CORRELATION% (1%,25%)")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(parse_bw("10mbit").unwrap().bits_per_sec, 10_000_000);
        assert_eq!(parse_bw("1mbps").unwrap().bits_per_sec, 8_000_000);
        let b = parse_bw("10mbit,32kb,50ms").unwrap();
        assert_eq!((b.burst_bytes, b.latency_us), (Some(32768), Some(50_000)));
        assert_eq!(parse_bw("10mbit,32kb,100kb").unwrap().limit_bytes, Some(102400));
        assert!(parse_bw("10").is_err());
        assert!(parse_bw("10mbit,32kb").is_err());
        let d = parse_delay("100ms,10ms,25%").unwrap();
        assert_eq!((d.delay_us, d.jitter_us, d.correlation_pct), (100_000, Some(10_000), Some(25.0)));
        assert_eq!(parse_delay("10ms,1ms,normal").unwrap().distribution.as_deref(), Some("normal"));
        assert!(parse_delay("10 parsecs").is_err());
        assert_eq!(parse_loss("1.5%,25%").unwrap().pct, 1.5);
        assert!(parse_loss("5").is_err());
        assert!(parse_loss("120%").is_err());
    }
}
