//! anklume-disp's sandbox options (--mount, --publish, --user, --env, --network, --limit),
//! the real binary against the real Incus daemon.

use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::UnixDatagram;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use anklume_tests::{BRIDGE, ScratchDir, TEST_IMAGE, TestProject, finish, run_tool, unique_name};

const DISP: &str = env!("CARGO_BIN_EXE_anklume-disp");

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// anklume-disp launching the test image in `project`, run in `cwd`, without infra.yml.
fn disp_in(project: &TestProject, cwd: &ScratchDir) -> Command {
    let mut command = Command::new(DISP);
    command
        .args(["--image", TEST_IMAGE, "--domain", project.name()])
        .current_dir(cwd.path())
        .env_remove("ANKLUME_INFRA");
    command
}

fn assert_failed_saying(out: &Output, code: i32, expected: &str) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(code), "{stderr}");
    assert!(
        stderr.contains(expected),
        "expected {expected:?} in: {stderr}"
    );
}

/// A folder of `cwd` with `files` in it, owned by 1000:1000 as a user's would be.
fn user_folder(cwd: &ScratchDir, name: &str, files: &[(&str, &str)]) {
    let dir = cwd.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (file, content) in files {
        std::fs::write(dir.join(file), content).unwrap();
    }
    for entry in std::fs::read_dir(&dir).unwrap() {
        std::os::unix::fs::chown(entry.unwrap().path(), Some(1000), Some(1000)).unwrap();
    }
    std::os::unix::fs::chown(&dir, Some(1000), Some(1000)).unwrap();
}

/// Grocker's pattern: two read-only folders, one nested in the other, a written one, the
/// scripts, and the host's log socket, as user 1000:1000. Read-only is Incus's, not a
/// convention; the output belongs to 1000:1000 on the host; the log reaches the socket; the
/// mount point made for the nested mount is gone afterwards.
#[test]
fn grockers_pattern_end_to_end() {
    let Some(project) = TestProject::new("disp-grocker") else {
        return;
    };
    let cwd = ScratchDir::new("disp-grocker");
    user_folder(&cwd, "config", &[("app.conf", "setting=1\n")]);
    user_folder(&cwd, "ssh", &[("id", "key\n")]);
    user_folder(&cwd, "media", &[]);
    let script = "#!/bin/sh\n\
        cat /config/app.conf /config/ssh-dir/id\n\
        touch /config/x 2>/dev/null && echo config-writable\n\
        touch /config/ssh-dir/x 2>/dev/null && echo ssh-writable\n\
        id -u > /media/who && echo \"$GREETING\" >> /media/who\n\
        logger -t grocker sent-through-dev-log\n";
    user_folder(&cwd, "scripts", &[("run.sh", script)]);
    let run = cwd.path().join("scripts/run.sh");
    std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o755)).unwrap();
    let socket_path = cwd.path().join("log.sock");
    let log = UnixDatagram::bind(&socket_path).unwrap();
    std::fs::set_permissions(&socket_path, std::fs::Permissions::from_mode(0o666)).unwrap();
    log.set_read_timeout(Some(Duration::from_secs(10))).unwrap();

    let out = run_tool(disp_in(&project, &cwd).args([
        "-q",
        "--mount",
        "./config:/config:ro",
        "--mount",
        "./ssh:/config/ssh-dir:ro",
        "--mount",
        "./media:/media:rw",
        "--mount",
        "./scripts:/scripts",
        "--mount",
        "./log.sock:/dev/log",
        "--user",
        "1000:1000",
        "--env",
        "GREETING=hello from the host",
        "--cmd",
        "/scripts/run.sh",
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(
        text(&out.stdout),
        "setting=1\nkey\n",
        "read, and nothing written: {}",
        text(&out.stderr)
    );
    let who = cwd.path().join("media/who");
    assert_eq!(
        std::fs::read_to_string(&who).unwrap(),
        "1000\nhello from the host\n"
    );
    let meta = std::fs::metadata(&who).unwrap();
    assert_eq!((meta.uid(), meta.gid()), (1000, 1000));
    let mut buf = [0u8; 512];
    let n = log.recv(&mut buf).expect("a log line through /dev/log");
    assert!(
        text(&buf[..n]).contains("sent-through-dev-log"),
        "{}",
        text(&buf[..n])
    );
    let left: Vec<_> = std::fs::read_dir(cwd.path().join("config"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(
        left,
        ["app.conf"],
        "the mount point made for ssh-dir is gone"
    );
    assert!(project.instances().is_empty());
}

/// busybox httpd in a disposable answers on the published host port, on 127.0.0.1 by
/// default; once the disposable is gone the port is closed. A port in use is refused first.
#[test]
fn a_published_port_answers_and_closes_with_the_disposable() {
    let Some(project) = TestProject::new("disp-publish") else {
        return;
    };
    let cwd = ScratchDir::new("disp-publish");
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    // The test image's init leaves lo down.
    let serve = "ip link set lo up && mkdir -p /www && echo hello-web > /www/index.html \
        && httpd -p 8080 -h /www && echo ready && sleep 60";
    let mut child = disp_in(&project, &cwd)
        .args(["-q", "--publish", &format!("{port}:8080"), "--cmd", serve])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut ready = [0u8; 6];
    std::io::Read::read_exact(&mut stdout, &mut ready).unwrap();
    let url = format!("http://127.0.0.1:{port}/");
    let curl = Command::new("curl")
        .args(["-s", "-m", "10", &url])
        .output()
        .unwrap();
    assert_eq!(text(&curl.stdout), "hello-web\n", "curl: {:?}", curl.status);
    let instance = project.instances().pop().unwrap();
    let listen = project.run(&[
        "config",
        "device",
        "get",
        &instance,
        "anklume-publish",
        "listen",
    ]);
    assert_eq!(listen.trim(), format!("tcp:127.0.0.1:{port}"));

    // In use now: refused before anything is launched.
    let before = project.instances();
    let out = run_tool(disp_in(&project, &cwd).args([
        "--publish",
        &format!("{port}:80"),
        "--cmd",
        "true",
    ]));
    assert_failed_saying(&out, 1, "already in use");
    assert_eq!(project.instances(), before);

    child.kill().unwrap();
    let _ = finish(child);
    let closed = (0..100).any(|_| {
        std::thread::sleep(Duration::from_millis(200));
        project.instances().is_empty() && std::net::TcpStream::connect(("127.0.0.1", port)).is_err()
    });
    assert!(closed, "the port is closed once the disposable is gone");
}

/// With a profile that gives a network interface: `--network none` leaves only lo, a named
/// network replaces the profile's, and an unknown one is refused before the launch. `--limit`
/// is read back from the instance, over infra.yml's domain defaults.
#[test]
fn networks_and_limits() {
    let Some(project) = TestProject::with_own_profiles("disp-net") else {
        return;
    };
    project.run(&[
        "profile",
        "device",
        "add",
        "default",
        "root",
        "disk",
        "path=/",
        "pool=default",
    ]);
    let network = format!("network={BRIDGE}");
    project.run(&[
        "profile", "device", "add", "default", "eth0", "nic", &network,
    ]);
    let cwd = ScratchDir::new("disp-net");
    let interfaces = "ls /sys/class/net | tr '\\n' ' '";
    let out = run_tool(disp_in(&project, &cwd).args(["-q", "--cmd", interfaces]));
    assert_eq!(
        text(&out.stdout),
        "eth0 lo ",
        "the profile's: {}",
        text(&out.stderr)
    );
    let out =
        run_tool(disp_in(&project, &cwd).args(["-q", "--network", "none", "--cmd", interfaces]));
    assert_eq!(text(&out.stdout), "lo ", "{}", text(&out.stderr));

    let out = run_tool(disp_in(&project, &cwd).args([
        "--network",
        "anklume-no-such-net",
        "--cmd",
        "true",
    ]));
    assert_failed_saying(&out, 1, "network 'anklume-no-such-net' does not exist");
    assert!(project.instances().is_empty());

    // infra.yml gives the domain's limits and network; the command line wins.
    let infra = format!(
        "domains:\n  {:?}:\n    trust_level: disposable\n    network: none\n    limits:\n      cpu: 1\n      memory: 256MiB\n",
        project.name()
    );
    cwd.write("infra.yml", &infra);
    let mut command = Command::new(DISP);
    command
        .args(["-q", "--image", TEST_IMAGE, "--no-attach", "--ttl", "10m"])
        .args(["--limit", "memory=128MiB", "--domain", project.name()])
        .current_dir(cwd.path())
        .env_remove("ANKLUME_INFRA");
    let out = run_tool(&mut command);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = text(&out.stdout).trim().to_owned();
    let get = |key: &str| {
        project
            .run(&["config", "get", &name, key])
            .trim()
            .to_owned()
    };
    assert_eq!(get("limits.cpu"), "1", "from infra.yml");
    assert_eq!(get("limits.memory"), "128MiB", "the command line wins");
    let nets = project.run(&["exec", &name, "--", "ls", "/sys/class/net"]);
    assert_eq!(
        nets.split_whitespace().collect::<Vec<_>>(),
        ["lo"],
        "infra.yml's network: none"
    );
    project.run(&["delete", "--force", &name]);
}

/// Each misuse is said before anything is launched, naming what is wrong.
#[test]
fn sandbox_misuse_is_named_before_the_launch() {
    let Some(project) = TestProject::new("disp-sbx-err") else {
        return;
    };
    let cwd = ScratchDir::new("disp-sbx-err");
    user_folder(&cwd, "a", &[]);
    user_folder(&cwd, "b", &[]);
    std::fs::create_dir(cwd.path().join("rootowned")).unwrap();
    let run = |args: &[&str]| run_tool(disp_in(&project, &cwd).args(args).args(["--cmd", "true"]));
    let missing = unique_name("missing");
    assert_failed_saying(&run(&["--mount", &format!("./{missing}:/x")]), 2, &missing);
    assert_failed_saying(
        &run(&["--mount", "./a:/x", "--mount", "./b:/x"]),
        2,
        "two --mount options share /x",
    );
    assert_failed_saying(&run(&["--mount", "./a:x"]), 2, "must be absolute");
    assert_failed_saying(&run(&["--publish", "80"]), 2, "HOST_PORT:PORT");
    assert_failed_saying(&run(&["--publish", "8080:80/sctp"]), 2, "HOST_PORT:PORT");
    assert_failed_saying(&run(&["--user", "alice"]), 2, "UID[:GID]");
    assert_failed_saying(&run(&["--env", "1X=y"]), 2, "not a variable name");
    assert_failed_saying(&run(&["--limit", "disk=1"]), 2, "unknown limit 'disk'");
    assert_failed_saying(&run(&["--limit", "memory=lots"]), 2, "memory=lots");
    std::fs::create_dir(cwd.path().join("a/sub")).unwrap();
    assert_failed_saying(
        &run(&["--mount", "./a:/x", "--mount", "./a/sub:/y:ro"]),
        2,
        "lies inside",
    );
    assert_failed_saying(&run(&["--mount", "./a:/w/../etc"]), 2, "without . or ..");
    assert_failed_saying(
        &run(&["--mount", "./a:/x", "--user", "1000:0"]),
        2,
        "group 0",
    );
    assert_failed_saying(
        &run(&["--publish", "18555:80", "--publish", "18555:81"]),
        2,
        "two --publish",
    );
    let socket = cwd.path().join("s.sock");
    let _listening = UnixDatagram::bind(&socket).unwrap();
    assert_failed_saying(
        &run(&["--mount", "./s.sock:/dev/log:ro"]),
        2,
        "socket cannot be read-only",
    );
    // Root's folder may be shared read-only, never written as root.
    assert_failed_saying(&run(&["--mount", "./rootowned:/r"]), 1, "belongs to root");
    let out = run(&["-q", "--mount", "./rootowned:/r:ro"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(project.instances().is_empty());
}

/// The sandbox options work on a clone of a golden image as on an image, and a port published
/// with --no-attach stays published after anklume-disp has returned.
#[test]
fn sandbox_from_a_golden_and_with_no_attach() {
    let Some(project) = TestProject::new("disp-sbx-golden") else {
        return;
    };
    let cwd = ScratchDir::new("disp-sbx-golden");
    let golden = unique_name("golden");
    project.golden(&golden, "echo from-golden > /etc/motd");
    user_folder(&cwd, "data", &[("in.txt", "input\n")]);
    let out = run_tool(
        Command::new(DISP)
            .args(["-q", "--from", &golden, "--domain", project.name()])
            .args(["--mount", "./data:/data:ro", "--user", "1000", "--env", "X=42"])
            .args(["--network", "none", "--limit", "cpu=1"])
            .args(["--cmd", "cat /etc/motd /data/in.txt; echo $X; id -u; ls /sys/class/net; touch /data/w || echo ro"])
            .current_dir(cwd.path())
            .env_remove("ANKLUME_INFRA"),
    );
    assert_eq!(
        text(&out.stdout),
        "from-golden\ninput\n42\n1000\nlo\nro\n",
        "{}",
        text(&out.stderr)
    );
    assert_eq!(project.instances(), std::slice::from_ref(&golden));

    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        probe.local_addr().unwrap().port()
    };
    let out = run_tool(disp_in(&project, &cwd).args([
        "-q",
        "--user",
        "1000",
        "--no-attach",
        "--ttl",
        "10m",
        "--publish",
        &format!("127.0.0.1:{port}:8080"),
    ]));
    assert!(out.status.success(), "{}", text(&out.stderr));
    let name = text(&out.stdout).trim().to_owned();
    let serve = "ip link set lo up && mkdir -p /www && echo kept > /www/index.html && httpd -p 8080 -h /www";
    project.run(&["exec", &name, "--", "sh", "-c", serve]);
    let url = format!("http://127.0.0.1:{port}/");
    let curl = Command::new("curl")
        .args(["-s", "-m", "10", &url])
        .output()
        .unwrap();
    assert_eq!(text(&curl.stdout), "kept\n");
    project.run(&["delete", "--force", &name]);
    assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
}
