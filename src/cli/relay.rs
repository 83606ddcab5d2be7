//! `vnx __relay`: carries the lab's switch's OpenFlow sessions to a controller outside the lab
//! (the `ovs-relay` kind starts it in the host's namespace): it listens on a unix socket in the
//! switch's directory and, for each session the switch opens there, connects to the
//! controller and copies bytes both ways until either side closes. A controller that is not
//! up yet closes the session; Open vSwitch tries again.

use std::io::Write;
use std::net::{Shutdown, TcpStream};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::PathBuf;
use std::time::Duration;

#[derive(clap::Args, Debug)]
pub struct RelayCmd {
    /// The unix socket to listen on.
    #[arg(long)]
    pub listen: PathBuf,
    /// The controller, HOST:PORT.
    #[arg(long)]
    pub to: String,
}

pub fn run(c: RelayCmd) -> i32 {
    let _ = std::fs::remove_file(&c.listen);
    let listener = match UnixListener::bind(&c.listen) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("vnx relay: listening on {}: {e}", c.listen.display());
            return super::EXIT_ERROR;
        }
    };
    // The pid file says the relay is up (written once the socket is there).
    let pid = c.listen.with_extension("relay.pid");
    if let Err(e) = std::fs::File::create(&pid).and_then(|mut f| write!(f, "{}", std::process::id())) {
        eprintln!("vnx relay: writing {}: {e}", pid.display());
        return super::EXIT_ERROR;
    }
    for conn in listener.incoming() {
        let Ok(switch) = conn else { continue };
        let to = c.to.clone();
        std::thread::spawn(move || session(switch, &to));
    }
    0
}

/// One OpenFlow session: the switch's end, and the controller's once connected.
fn session(switch: UnixStream, to: &str) {
    let controller = match to.parse::<std::net::SocketAddr>() {
        Ok(a) => TcpStream::connect_timeout(&a, Duration::from_secs(5)),
        Err(_) => TcpStream::connect(to),
    };
    let Ok(controller) = controller else { return }; // the switch tries again
    let _ = controller.set_nodelay(true);
    let (Ok(mut s_read), Ok(mut c_write)) = (switch.try_clone(), controller.try_clone()) else { return };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut s_read, &mut c_write);
        let _ = c_write.shutdown(Shutdown::Write);
    });
    let (mut c_read, mut s_write) = (controller, switch);
    let _ = std::io::copy(&mut c_read, &mut s_write);
    let _ = s_write.shutdown(Shutdown::Both);
    let _ = up.join();
}
