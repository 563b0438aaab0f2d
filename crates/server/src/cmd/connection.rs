//! Connection commands: `PING`, `ECHO`, `SELECT`, `AUTH`, `HELLO`, `CLIENT`.
//!
//! `PING`/`ECHO`/`SELECT` need neither the engine nor connection state, so they
//! run like reads. The others are parsed here and applied by
//! [`crate::session`], which owns the connection state they change (protocol
//! version, authentication, name). Their validation order copies Redis 7.0's
//! `helloCommand`/`authCommand`/`clientCommand`, because clients see which
//! error comes first.

use bytes::Bytes;

use super::Args;
use crate::frame::{err_arity, err_not_integer, err_syntax, err_unknown_subcommand, Frame, Proto};
use crate::parse::parse_i64;

/// `PING [message]`, `ECHO message`, `SELECT index`.
#[derive(Debug)]
pub enum Pure {
    /// `PING` (replies `+PONG`) or `PING msg` (replies the bulk `msg`).
    Ping(Option<Bytes>),
    /// `ECHO msg`.
    Echo(Bytes),
    /// `SELECT n`: the result is decided at parse time (only db 0 exists).
    Select(Result<(), Frame>),
}

impl Pure {
    pub(super) fn parse(name: &str, a: &mut Args) -> Result<Pure, Frame> {
        Ok(match name {
            "ping" => {
                if a.remaining() > 1 {
                    return Err(err_arity("ping"));
                }
                Pure::Ping(a.try_next())
            }
            "echo" => Pure::Echo(a.next()?),
            _ => Pure::Select(match parse_i64(&a.next()?) {
                None => Err(err_not_integer()),
                Some(0) => Ok(()),
                Some(_) => Err(Frame::error("ERR DB index is out of range")),
            }),
        })
    }

    pub(super) fn exec(self) -> Frame {
        match self {
            Pure::Ping(None) => Frame::simple("PONG"),
            Pure::Ping(Some(m)) | Pure::Echo(m) => Frame::Bulk(m),
            Pure::Select(r) => r.map_or_else(|e| e, |()| Frame::ok()),
        }
    }
}

/// `AUTH [username] password`.
#[derive(Debug)]
pub struct Auth {
    /// `None` for the one-argument form (which implies user `default`).
    pub user: Option<Bytes>,
    /// The password to check.
    pub pass: Bytes,
}

impl Auth {
    pub(super) fn parse(a: &mut Args) -> Result<Auth, Frame> {
        match a.remaining() {
            1 => Ok(Auth {
                user: None,
                pass: a.next()?,
            }),
            2 => Ok(Auth {
                user: Some(a.next()?),
                pass: a.next()?,
            }),
            _ => Err(err_syntax()),
        }
    }

    /// Checks the credentials against `requirepass`, as Redis's default user
    /// does: with no password configured, the one-argument form is an error
    /// and the two-argument form accepts any password for `default`.
    pub fn check(&self, requirepass: Option<&str>) -> Result<(), Frame> {
        if self.user.is_none() && requirepass.is_none() {
            return Err(Frame::error(
                "ERR AUTH <password> called without any password configured for the default \
                 user. Are you sure your configuration is correct?",
            ));
        }
        credentials_ok(self.user.as_deref(), &self.pass, requirepass)
    }
}

/// Validates `user`/`pass` for the default user; the error is Redis's.
pub fn credentials_ok(
    user: Option<&[u8]>,
    pass: &[u8],
    requirepass: Option<&str>,
) -> Result<(), Frame> {
    let user_ok = user.is_none_or(|u| u == b"default");
    let pass_ok = requirepass.is_none_or(|p| p.as_bytes() == pass);
    if user_ok && pass_ok {
        Ok(())
    } else {
        Err(Frame::error(
            "WRONGPASS invalid username-password pair or user is disabled.",
        ))
    }
}

/// `HELLO [protover [AUTH username password] [SETNAME clientname]]`.
#[derive(Debug)]
pub struct Hello {
    /// The protocol to switch to; `None` keeps the current one.
    pub proto: Option<Proto>,
    /// `AUTH username password`.
    pub auth: Option<(Bytes, Bytes)>,
    /// `SETNAME clientname`.
    pub setname: Option<Bytes>,
}

impl Hello {
    pub(super) fn parse(a: &mut Args) -> Result<Hello, Frame> {
        let mut hello = Hello {
            proto: None,
            auth: None,
            setname: None,
        };
        let Some(ver) = a.try_next() else {
            return Ok(hello);
        };
        hello.proto = match parse_i64(&ver) {
            None => {
                return Err(Frame::error(
                    "ERR Protocol version is not an integer or out of range",
                ))
            }
            Some(2) => Some(Proto::Resp2),
            Some(3) => Some(Proto::Resp3),
            Some(_) => return Err(Frame::error("NOPROTO unsupported protocol version")),
        };
        while let Some(opt) = a.try_next() {
            if opt.eq_ignore_ascii_case(b"AUTH") && a.remaining() >= 2 {
                hello.auth = Some((a.next()?, a.next()?));
            } else if opt.eq_ignore_ascii_case(b"SETNAME") && a.remaining() >= 1 {
                hello.setname = Some(a.next()?);
            } else {
                return Err(Frame::error_owned(format!(
                    "ERR Syntax error in HELLO option '{}'",
                    String::from_utf8_lossy(&opt)
                )));
            }
        }
        Ok(hello)
    }
}

/// The `CLIENT` subcommands we support.
#[derive(Debug)]
pub enum ClientCmd {
    /// `CLIENT ID`.
    Id,
    /// `CLIENT GETNAME`.
    GetName,
    /// `CLIENT SETNAME name` (already validated; empty clears the name).
    SetName(Bytes),
    /// `CLIENT LIST [...]`.
    List,
    /// `CLIENT INFO`.
    Info,
    /// `CLIENT SETINFO LIB-NAME|LIB-VER value` (Redis 7.2; accepted and ignored).
    SetInfo,
    /// `CLIENT NO-EVICT|NO-TOUCH ON|OFF`: meaningless here, accepted.
    Noop,
}

impl ClientCmd {
    pub(super) fn parse(a: &mut Args) -> Result<ClientCmd, Frame> {
        let sub = a.next()?;
        let lower = String::from_utf8_lossy(&sub).to_ascii_lowercase();
        let argc = a.remaining() + 2;
        let arity = |n: usize, exact: bool| {
            if (exact && argc != n) || (!exact && argc < n) {
                Err(err_arity(&format!("client|{lower}")))
            } else {
                Ok(())
            }
        };
        Ok(match lower.as_str() {
            "id" => arity(2, true).map(|()| ClientCmd::Id)?,
            "getname" => arity(2, true).map(|()| ClientCmd::GetName)?,
            "info" => arity(2, true).map(|()| ClientCmd::Info)?,
            "list" => arity(2, false).map(|()| ClientCmd::List)?,
            "setname" => {
                arity(3, true)?;
                let name = a.next()?;
                if name.iter().any(|&c| !(b'!'..=b'~').contains(&c)) {
                    return Err(Frame::error(
                        "ERR Client names cannot contain spaces, newlines or special characters.",
                    ));
                }
                ClientCmd::SetName(name)
            }
            "setinfo" => {
                arity(4, true)?;
                let attr = a.next()?;
                if !attr.eq_ignore_ascii_case(b"lib-name") && !attr.eq_ignore_ascii_case(b"lib-ver")
                {
                    return Err(Frame::error_owned(format!(
                        "ERR Unrecognized option '{}'",
                        String::from_utf8_lossy(&attr)
                    )));
                }
                ClientCmd::SetInfo
            }
            "no-evict" | "no-touch" => {
                arity(3, true)?;
                ClientCmd::Noop
            }
            _ => return Err(err_unknown_subcommand(&sub, "CLIENT")),
        })
    }
}
