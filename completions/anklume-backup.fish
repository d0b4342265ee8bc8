# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_anklume_backup_global_optspecs
    string join \n h/help V/version
end

function __fish_anklume_backup_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_anklume_backup_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_anklume_backup_using_subcommand
    set -l cmd (__fish_anklume_backup_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -s V -l version -d 'Print version'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "create" -d 'Back INSTANCE up into DIR (or stdout), encrypted to each --gpg recipient or a passphrase'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "restore" -d 'Restore a backup (plain or encrypted, recognised by content) as an instance'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "verify" -d 'Check that a backup is intact (decryption, compression, archive, index) and describe it'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "list" -d 'List the backups in DIR, or the snapshots of a repository'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "init" -d 'Create a repository (restic\'s format) whose random key is sealed to --gpg recipients'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "key" -d 'Print a repository\'s unsealed password, or change who may open it (add/remove)'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "prune" -d 'Forget the snapshots a retention policy does not keep, and free the space they held'
complete -c anklume-backup -n "__fish_anklume_backup_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l project -d 'Its project [default: found from the name]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -s o -l output -d 'Directory of the backup file, created 0700 if missing, or the file itself when named as one (`web.tar.zst.gpg`); `-` writes to stdout [default: $ANKLUME_BACKUP_DIR, else backups]' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l repo -d 'Back up into a new snapshot of this repository instead of a file (restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:URL, s3:URL) [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l compression -d 'Compression of the archive, done by Incus [default: zstd]' -r -f -a "zstd\t''
gzip\t''
xz\t''
none\t''"
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l gpg -l gpg-recipient -d 'Encrypt to this OpenPGP certificate (fingerprint, key ID or e-mail), looked up in the --recipient-file certificates, then in your GnuPG keyring; repeatable' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l recipient-file -d 'OpenPGP certificates to encrypt to (all of them, unless --gpg picks some); repeatable' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l passphrase-file -d 'Encrypt with the passphrase in FILE (its first line), instead of or as well as keys' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l sign-with -d 'Sign with this key (fingerprint, key ID or e-mail), from --key-file, else your GnuPG agent [default: the first --gpg recipient whose secret key is at hand]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l key-file -d 'Secret key to sign with (armored or binary, not passphrase-protected), or to open the --repo repository\'s key with; repeatable' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l signer -d 'With --repo: trust a sealed key signed by this certificate (a file, or the full fingerprint of one of your GnuPG keyring); repeatable [default: the key that opens it]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l force -d 'Replace a backup file of the same name; with `-o -`, write even to a terminal'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l instance-only -d 'Leave the instance\'s snapshots out'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -l unsigned -d 'Write an encrypted backup without a signature, on purpose (restore then needs --allow-unsigned)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -s q -l quiet -d 'No progress line'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand create" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l file -d 'The backup file (same as FILE)' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l name -d 'Name of the restored instance, on that Incus remote if REMOTE: is given [default: the name recorded in the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l remote -d 'Restore on this Incus remote (`incus remote list`), keeping the name [default: the client\'s default remote]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l target -d 'Restore on this member of the remote\'s cluster (`incus cluster list REMOTE:`); a member that is not online is refused before any data moves' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l project -d 'Project to restore into [default: the snapshot\'s project if it exists, else default]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l repo -d 'Restore a snapshot of this repository [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l storage -d 'Storage pool of the restored instance [default: the one recorded, else the profile\'s]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l force -d 'Replace an existing instance of that name, once the backup has been imported'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -s q -l quiet -d 'No progress line'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand restore" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -l repo -d 'Check this repository instead [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -l format -d 'Format of the report' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -l read-data -d 'With --repo: re-read and authenticate every byte of data, not only the structure'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -s q -l quiet -d 'Errors only: no report; the exit status says whether the backup is intact'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand verify" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -l repo -d 'List the snapshots of this repository [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -l format -d 'Output format' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -s q -l quiet -d 'Errors only (the listing is data: it is still written)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand list" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand init" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand init" -l gpg -d 'Seal the repository\'s key to this OpenPGP certificate (fingerprint, key ID or e-mail), looked up in the --recipient-file certificates, then in your GnuPG keyring; repeatable' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand init" -l recipient-file -d 'OpenPGP certificates to seal the key to (all of them, unless --gpg picks some)' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand init" -l sign-with -d 'Sign the sealed key with this key [default: the first --gpg recipient whose secret key is at hand]; a sealed key is always signed' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand init" -l key-file -d 'Secret key to sign with (armored or binary, not passphrase-protected); repeatable' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand init" -s q -l quiet -d 'Errors only'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand init" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -s q -l quiet -d 'Errors only'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -f -a "add" -d 'Seal a new key to the current recipients and these (nothing else is rewritten)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -f -a "remove" -d 'Seal a new key to the current recipients but these; the old key opens nothing any more'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and not __fish_seen_subcommand_from add remove help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l gpg -d 'The certificate to add or remove (fingerprint, key ID or e-mail); repeatable' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l recipient-file -d 'OpenPGP certificates of recipients that are not in your GnuPG keyring' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l sign-with -d 'Sign the new sealed key with this key [default: the first recipient whose secret key is at hand]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -s q -l quiet -d 'Errors only'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from add" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l gpg -d 'The certificate to add or remove (fingerprint, key ID or e-mail); repeatable' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l recipient-file -d 'OpenPGP certificates of recipients that are not in your GnuPG keyring' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l sign-with -d 'Sign the new sealed key with this key [default: the first recipient whose secret key is at hand]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -s q -l quiet -d 'Errors only'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from remove" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "add" -d 'Seal a new key to the current recipients and these (nothing else is rewritten)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "remove" -d 'Seal a new key to the current recipients but these; the old key opens nothing any more'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand key; and __fish_seen_subcommand_from help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l repo -d 'Repository in restic\'s format: a folder, sftp:USER@HOST:/PATH, rest:http://HOST:PORT/ or s3:https://HOST/BUCKET/PATH [env: ANKLUME_BACKUP_REPO]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l instance -d 'Only the snapshots of this instance' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l keep-last -d 'Keep the N latest snapshots (of each instance)' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l keep-hourly -d 'Keep the latest snapshot of each of the N last hours with one' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l keep-daily -d 'Keep the latest snapshot of each of the N last days with one' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l keep-weekly -d 'Keep the latest snapshot of each of the N last weeks with one' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l keep-monthly -d 'Keep the latest snapshot of each of the N last months with one' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l keep-yearly -d 'Keep the latest snapshot of each of the N last years with one' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l key-file -d 'Secret key to decrypt with (armored or binary); repeatable. Without it, your GnuPG agent is asked, then the passphrase' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l passphrase-file -d 'Passphrase (first line of FILE) of a passphrase-encrypted backup or of a --key-file' -r -F
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l signer -d 'Trust signatures by this certificate: a file, or the full fingerprint of one of your GnuPG keyring; repeatable [default: the key that decrypts the backup]' -r
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l dry-run -d 'List what would be forgotten (IDs on stdout), change nothing'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l instant -d 'Delete unused data at once, not after a day (only when nothing else writes to the repository meanwhile)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -l allow-unsigned -d 'Accept an encrypted backup that no trusted signer signed'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -s q -l quiet -d 'Errors only'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand prune" -s h -l help -d 'Print help'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "create" -d 'Back INSTANCE up into DIR (or stdout), encrypted to each --gpg recipient or a passphrase'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "restore" -d 'Restore a backup (plain or encrypted, recognised by content) as an instance'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "verify" -d 'Check that a backup is intact (decryption, compression, archive, index) and describe it'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "list" -d 'List the backups in DIR, or the snapshots of a repository'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "init" -d 'Create a repository (restic\'s format) whose random key is sealed to --gpg recipients'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "key" -d 'Print a repository\'s unsealed password, or change who may open it (add/remove)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "prune" -d 'Forget the snapshots a retention policy does not keep, and free the space they held'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and not __fish_seen_subcommand_from create restore verify list init key prune help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "add" -d 'Seal a new key to the current recipients and these (nothing else is rewritten)'
complete -c anklume-backup -n "__fish_anklume_backup_using_subcommand help; and __fish_seen_subcommand_from key" -f -a "remove" -d 'Seal a new key to the current recipients but these; the old key opens nothing any more'
