complete -c anklume-disp -s i -l image -d 'Image to launch [default: global.default_os_image from infra.yml, else images:debian/13]' -r
complete -c anklume-disp -s d -l domain -l project -d 'Incus project to launch in [default: the first domain of infra.yml with trust_level: disposable, else default]' -r
complete -c anklume-disp -s c -l cmd -d 'Run CMD with `sh -c` inside the instance, then destroy it' -r
complete -c anklume-disp -l from -d 'Start from GOLDEN\'s `pristine` snapshot (an ephemeral copy-on-write clone) instead of an image; the clone goes to GOLDEN\'s project unless --domain is given. PROJECT/GOLDEN picks among namesakes of several projects; REMOTE:GOLDEN takes it on that remote' -r
complete -c anklume-disp -l remote -d 'Launch on this Incus remote (`incus remote list`) [default: the client\'s default remote]' -r
complete -c anklume-disp -l target -d 'Launch on this member of the remote\'s cluster (`incus cluster list REMOTE:`); a member that is not online is refused before anything is made' -r
complete -c anklume-disp -l mount -d 'Share a host folder, file or unix socket at PATH (default /mnt/host); repeatable. `:ro` makes it read-only (Incus enforces it). The command runs in the first one. What the instance writes belongs to the folder\'s owner, who may not be root, or with --user to that user' -r
complete -c anklume-disp -l publish -d 'Publish PORT of the instance on HOST_ADDR:HOST_PORT of this host (default address 127.0.0.1, not every interface); repeatable' -r
complete -c anklume-disp -s u -l user -d 'Run the shell or command as this user (and group; default: the UID); with --mount, what it writes belongs to that UID on the host' -r
complete -c anklume-disp -s e -l env -d 'Set an environment variable for the shell or command; repeatable' -r
complete -c anklume-disp -l network -d '`none`: no network (only lo inside); else this Incus network instead of the profile\'s [default: the domain\'s `network` in infra.yml, else the profile\'s]' -r
complete -c anklume-disp -l limit -d 'Limit the instance\'s CPUs and memory (limits.cpu, limits.memory); repeatable [default: the domain\'s `limits` in infra.yml]' -r
complete -c anklume-disp -l ttl -d 'With --no-attach: destroy the instance after DURATION (e.g. 90s, 30m, 2h, 1h30m), even after anklume-disp has exited' -r
complete -c anklume-disp -l name -d 'Name of the instance [default: disp-YYYYMMDD-HHMMSS, with -2, -3... when taken]' -r
complete -c anklume-disp -s s -l storage -d 'Storage pool of the instance' -r
complete -c anklume-disp -s p -l profile -d 'Profile to apply (repeatable; replaces the default profile)' -r
complete -c anklume-disp -l preload -d 'Keep N started, unused disposables of this specification ready (the source, --domain, --profile, --storage, --vm, --network, --limit): a run with the same options takes one instead of launching; 0 removes them. Prints their names' -r
complete -c anklume-disp -l format -d 'Output format of --preload-list' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume-disp -l console -d 'Attach to the instance\'s console instead of a shell (detach: Ctrl+a q), then destroy it'
complete -c anklume-disp -l no-attach -d 'Launch in the background: print the instance name on stdout (REMOTE:NAME on another remote) and return'
complete -c anklume-disp -l vm -d 'A virtual machine instead of a container'
complete -c anklume-disp -l preload-list -d 'List the preloaded disposables of every domain'
complete -c anklume-disp -s q -l quiet -d 'Say nothing on stderr but errors'
complete -c anklume-disp -s h -l help -d 'Print help (see more with \'--help\')'
complete -c anklume-disp -s V -l version -d 'Print version'
