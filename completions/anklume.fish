# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_anklume_global_optspecs
    string join \n h/help V/version
end

function __fish_anklume_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_anklume_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_anklume_using_subcommand
    set -l cmd (__fish_anklume_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c anklume -n "__fish_anklume_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c anklume -n "__fish_anklume_needs_command" -s V -l version -d 'Print version'
complete -c anklume -n "__fish_anklume_needs_command" -f -a "disp" -d 'Disposable instances: a shell or one command, destroyed afterwards (anklume-disp)'
complete -c anklume -n "__fish_anklume_needs_command" -f -a "golden" -d 'Golden images: create, derive, publish, list (anklume-golden)'
complete -c anklume -n "__fish_anklume_needs_command" -f -a "xfer" -d 'File transfer between instances: pull, push, copy (anklume-xfer)'
complete -c anklume -n "__fish_anklume_needs_command" -f -a "portal" -d 'File transfer between instances: pull, push, copy (anklume-xfer)'
complete -c anklume -n "__fish_anklume_needs_command" -f -a "backup" -d 'Encrypted backups of instances: create, restore, verify, list (anklume-backup)'
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s i -l image -d 'Image to launch [default: global.default_os_image from infra.yml, else images:debian/13]' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s d -l domain -l project -d 'Incus project to launch in [default: the first domain of infra.yml with trust_level: disposable, else default]' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s c -l cmd -d 'Run CMD with `sh -c` inside the instance, then destroy it' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l from -d 'Start from GOLDEN\'s `pristine` snapshot (an ephemeral copy-on-write clone) instead of an image; the clone goes to GOLDEN\'s project unless --domain is given. PROJECT/GOLDEN picks among namesakes of several projects; REMOTE:GOLDEN takes it on that remote' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l remote -d 'Launch on this Incus remote (`incus remote list`) [default: the client\'s default remote]' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l target -d 'Launch on this member of the remote\'s cluster (`incus cluster list REMOTE:`); a member that is not online is refused before anything is made' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l mount -d 'Share a host folder, file or unix socket at PATH (default /mnt/host); repeatable. `:ro` makes it read-only (Incus enforces it). The command runs in the first one. What the instance writes belongs to the folder\'s owner, who may not be root, or with --user to that user' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l publish -d 'Publish PORT of the instance on HOST_ADDR:HOST_PORT of this host (default address 127.0.0.1, not every interface); repeatable' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s u -l user -d 'Run the shell or command as this user (and group; default: the UID); with --mount, what it writes belongs to that UID on the host' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s e -l env -d 'Set an environment variable for the shell or command; repeatable' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l network -d '`none`: no network (only lo inside); else this Incus network instead of the profile\'s [default: the domain\'s `network` in infra.yml, else the profile\'s]' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l limit -d 'Limit the instance\'s CPUs and memory (limits.cpu, limits.memory); repeatable [default: the domain\'s `limits` in infra.yml]' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l ttl -d 'With --no-attach: destroy the instance after DURATION (e.g. 90s, 30m, 2h, 1h30m), even after anklume-disp has exited' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l name -d 'Name of the instance [default: disp-YYYYMMDD-HHMMSS, with -2, -3... when taken]' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s s -l storage -d 'Storage pool of the instance' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s p -l profile -d 'Profile to apply (repeatable; replaces the default profile)' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l preload -d 'Keep N started, unused disposables of this specification ready (the source, --domain, --profile, --storage, --vm, --network, --limit): a run with the same options takes one instead of launching; 0 removes them. Prints their names' -r
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l format -d 'Output format of --preload-list' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l console -d 'Attach to the instance\'s console instead of a shell (detach: Ctrl+a q), then destroy it'
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l no-attach -d 'Launch in the background: print the instance name on stdout (REMOTE:NAME on another remote) and return'
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l vm -d 'A virtual machine instead of a container'
complete -c anklume -n "__fish_anklume_using_subcommand disp" -l preload-list -d 'List the preloaded disposables of every domain'
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s q -l quiet -d 'Say nothing on stderr but errors'
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand disp" -s V -l version -d 'Print version'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and not __fish_seen_subcommand_from create derive publish list" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and not __fish_seen_subcommand_from create derive publish list" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and not __fish_seen_subcommand_from create derive publish list" -s V -l version -d 'Print version'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and not __fish_seen_subcommand_from create derive publish list" -f -a "create" -d 'Stop NAME ([REMOTE:]NAME) cleanly and take its `pristine` snapshot (replacing the previous one atomically, never expiring); NAME stays stopped'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and not __fish_seen_subcommand_from create derive publish list" -f -a "derive" -d 'Create each NEW as a copy of NAME\'s `pristine` snapshot, in NAME\'s project'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and not __fish_seen_subcommand_from create derive publish list" -f -a "publish" -d 'Publish NAME\'s `pristine` snapshot as an Incus image under ALIAS'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and not __fish_seen_subcommand_from create derive publish list" -f -a "list" -d 'List the golden images (instances with a `pristine` snapshot)'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from create" -l project -d 'Its project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from create" -l timeout -d 'How long a clean stop may take (at least 1: Incus takes 0 as "force the stop now")' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from create" -l force -d 'Force the stop when a clean stop does not end within --timeout'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from create" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from derive" -l project -d 'The golden instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from derive" -l ipv4 -d 'Static IPv4 address of the clone, replacing the template\'s (only with one NEW)' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from derive" -l target -d 'Make the clones on this member of NAME\'s cluster' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from derive" -l start -d 'Start the new instances'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from derive" -l spread -d 'Place the clones round-robin over the members of NAME\'s cluster that are online'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from derive" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from derive" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from publish" -l alias -d 'Alias of the image' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from publish" -l project -d 'The golden instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from publish" -l reuse -d 'Replace the image an existing ALIAS points to'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from publish" -l public -d 'Make the image public (readable by untrusted clients)'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from publish" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from publish" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from list" -l project -d 'Only this project [default: all projects]' -r
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from list" -l format -d 'Output format' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from list" -l all-remotes -d 'List the golden images of every Incus remote of the client, with a REMOTE column; a remote that does not answer is a row saying so'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume -n "__fish_anklume_using_subcommand golden; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and not __fish_seen_subcommand_from pull push copy" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and not __fish_seen_subcommand_from pull push copy" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and not __fish_seen_subcommand_from pull push copy" -s V -l version -d 'Print version'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and not __fish_seen_subcommand_from pull push copy" -f -a "pull" -d 'Write a file of an instance to stdout (with -r, a tar stream of a file or directory)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and not __fish_seen_subcommand_from pull push copy" -f -a "push" -d 'Write stdin to a file of an instance (with -r, extract a tar stream into a directory)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and not __fish_seen_subcommand_from pull push copy" -f -a "copy" -d 'Copy a file or a directory tree from one instance to another, keeping owners and modes'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from pull" -l project -d 'The instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from pull" -s r -l archive -d 'Write a tar stream (modes, owners, times and symlinks kept) of a file or a whole directory'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from pull" -l force -d 'Write a tar stream or a binary file even to a terminal'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from pull" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from pull" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -l project -d 'The instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -l mode -d 'Permissions of the file, in octal [default: 0644]' -r
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -l uid -d 'Owner of the file [default: 0]' -r
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -l gid -d 'Group of the file [default: 0]' -r
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -s r -l archive -d 'Read a tar stream from stdin and extract it into the directory (created if missing)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -l keep-setid -d 'With -r, keep the setuid and setgid bits of the files received (dropped by default)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -s p -l parents -d 'Create the missing parent directories (0755), as `mkdir -p` and `incus file push -p` do'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from copy" -l src-project -d 'The source instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from copy" -l dst-project -d 'The destination instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from copy" -l keep-setid -d 'Keep the setuid and setgid bits of the files copied (dropped by default)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from copy" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand xfer; and __fish_seen_subcommand_from copy" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and not __fish_seen_subcommand_from pull push copy" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and not __fish_seen_subcommand_from pull push copy" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and not __fish_seen_subcommand_from pull push copy" -s V -l version -d 'Print version'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and not __fish_seen_subcommand_from pull push copy" -f -a "pull" -d 'Write a file of an instance to stdout (with -r, a tar stream of a file or directory)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and not __fish_seen_subcommand_from pull push copy" -f -a "push" -d 'Write stdin to a file of an instance (with -r, extract a tar stream into a directory)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and not __fish_seen_subcommand_from pull push copy" -f -a "copy" -d 'Copy a file or a directory tree from one instance to another, keeping owners and modes'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from pull" -l project -d 'The instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from pull" -s r -l archive -d 'Write a tar stream (modes, owners, times and symlinks kept) of a file or a whole directory'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from pull" -l force -d 'Write a tar stream or a binary file even to a terminal'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from pull" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from pull" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -l project -d 'The instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -l mode -d 'Permissions of the file, in octal [default: 0644]' -r
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -l uid -d 'Owner of the file [default: 0]' -r
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -l gid -d 'Group of the file [default: 0]' -r
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -s r -l archive -d 'Read a tar stream from stdin and extract it into the directory (created if missing)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -l keep-setid -d 'With -r, keep the setuid and setgid bits of the files received (dropped by default)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -s p -l parents -d 'Create the missing parent directories (0755), as `mkdir -p` and `incus file push -p` do'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from push" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from copy" -l src-project -d 'The source instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from copy" -l dst-project -d 'The destination instance\'s project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from copy" -l keep-setid -d 'Keep the setuid and setgid bits of the files copied (dropped by default)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from copy" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume -n "__fish_anklume_using_subcommand portal; and __fish_seen_subcommand_from copy" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -s V -l version -d 'Print version'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -f -a "create" -d 'Back INSTANCE up into DIR (or stdout), encrypted to each --gpg recipient or a passphrase'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -f -a "restore" -d 'Restore a backup (plain or encrypted, recognised by content) as an instance'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -f -a "verify" -d 'Check that a backup is intact (decryption, compression, archive, index) and describe it'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -f -a "list" -d 'List the backups in DIR, or the snapshots of a repository'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -f -a "init" -d 'Create a repository (restic\'s format) whose random key is sealed to --gpg recipients'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -f -a "key" -d 'Print a repository\'s unsealed password, or change who may open it (add/remove)'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and not __fish_seen_subcommand_from create restore verify list init key prune" -f -a "prune" -d 'Forget the snapshots a retention policy does not keep, and free the space they held'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l project -d 'Its project [default: found from the name]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -s o -l output -d 'Directory of the backup file, created 0700 if missing, or the file itself when named as one (`web.tar.zst.gpg`); `-` writes to stdout [default: $ANKLUME_BACKUP_DIR, else backups]' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l repo -d 'Back up into a new snapshot of this repository instead of a file (restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:URL, s3:URL) [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l compression -d 'Compression of the archive, done by Incus [default: zstd]' -r -f -a "zstd\t''
gzip\t''
xz\t''
none\t''"
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l gpg -l gpg-recipient -d 'Encrypt to this OpenPGP certificate (fingerprint, key ID or e-mail), looked up in the --recipient-file certificates, then in your GnuPG keyring; repeatable' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l recipient-file -d 'OpenPGP certificates to encrypt to (all of them, unless --gpg picks some); repeatable' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l passphrase-file -d 'Encrypt with the passphrase in FILE (its first line), instead of or as well as keys' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l sign-with -d 'Sign with this key (fingerprint, key ID or e-mail), from --key-file, else your GnuPG agent [default: the first --gpg recipient whose secret key is at hand]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l key-file -d 'Secret key to sign with (armored or binary, not passphrase-protected), or to open the --repo repository\'s key with; repeatable' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l signer -d 'With --repo: trust a sealed key signed by this certificate (a file, or the full fingerprint of one of your GnuPG keyring); repeatable [default: the key that opens it]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l force -d 'Replace a backup file of the same name; with `-o -`, write even to a terminal'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l instance-only -d 'Leave the instance\'s snapshots out'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -l unsigned -d 'Write an encrypted backup without a signature, on purpose (restore then needs --allow-unsigned)'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -s q -l quiet -d 'No progress line'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from create" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l file -d 'The backup file (same as FILE)' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l name -d 'Name of the restored instance, on that Incus remote if REMOTE: is given [default: the name recorded in the backup]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l remote -d 'Restore on this Incus remote (`incus remote list`), keeping the name [default: the client\'s default remote]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l target -d 'Restore on this member of the remote\'s cluster (`incus cluster list REMOTE:`); a member that is not online is refused before any data moves' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l project -d 'Project to restore into [default: the snapshot\'s project if it exists, else default]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l repo -d 'Restore a snapshot of this repository [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l storage -d 'Storage pool of the restored instance [default: the one recorded, else the profile\'s]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l force -d 'Replace an existing instance of that name, once the backup has been imported'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -s q -l quiet -d 'No progress line'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from restore" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -l repo -d 'Check this repository instead [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -l format -d 'Format of the report' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -l read-data -d 'With --repo: re-read and authenticate every byte of data, not only the structure'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -s q -l quiet -d 'Errors only: no report; the exit status says whether the backup is intact'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from verify" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -l repo -d 'List the snapshots of this repository [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -l format -d 'Output format' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -s q -l quiet -d 'Errors only (the listing is data: it is still written)'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from list" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from init" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from init" -l gpg -d 'Seal the repository\'s key to this OpenPGP certificate (fingerprint, key ID or e-mail), looked up in the --recipient-file certificates, then in your GnuPG keyring; repeatable' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from init" -l recipient-file -d 'OpenPGP certificates to seal the key to (all of them, unless --gpg picks some)' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from init" -l sign-with -d 'Sign the sealed key with this key [default: the first --gpg recipient whose secret key is at hand]; a sealed key is always signed' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from init" -l key-file -d 'Secret key to sign with (armored or binary, not passphrase-protected); repeatable' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from init" -s q -l quiet -d 'Errors only'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from init" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -s q -l quiet -d 'Errors only'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -s h -l help -d 'Print help'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -f -a "add" -d 'Seal a new key to the current recipients and these (nothing else is rewritten)'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from key" -f -a "remove" -d 'Seal a new key to the current recipients but these; the old key opens nothing any more'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l instance -d 'Only the snapshots of this instance' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l keep-last -d 'Keep the N latest snapshots (of each instance)' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l keep-hourly -d 'Keep the latest snapshot of each of the N last hours with one' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l keep-daily -d 'Keep the latest snapshot of each of the N last days with one' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l keep-weekly -d 'Keep the latest snapshot of each of the N last weeks with one' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l keep-monthly -d 'Keep the latest snapshot of each of the N last months with one' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l keep-yearly -d 'Keep the latest snapshot of each of the N last years with one' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l dry-run -d 'List what would be forgotten (IDs on stdout), change nothing'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l instant -d 'Delete unused data at once, not after a day (only when nothing else writes to the repository meanwhile)'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -s q -l quiet -d 'Errors only'
complete -c anklume -n "__fish_anklume_using_subcommand backup; and __fish_seen_subcommand_from prune" -s h -l help -d 'Print help'
