# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_anklume_xfer_global_optspecs
    string join \n q/quiet h/help V/version
end

function __fish_anklume_xfer_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_anklume_xfer_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_anklume_xfer_using_subcommand
    set -l cmd (__fish_anklume_xfer_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c anklume-xfer -n "__fish_anklume_xfer_needs_command" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume-xfer -n "__fish_anklume_xfer_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c anklume-xfer -n "__fish_anklume_xfer_needs_command" -s V -l version -d 'Print version'
complete -c anklume-xfer -n "__fish_anklume_xfer_needs_command" -f -a "pull" -d 'Write a file of an instance to stdout (with -r, a tar stream of a file or directory)'
complete -c anklume-xfer -n "__fish_anklume_xfer_needs_command" -f -a "push" -d 'Write stdin to a file of an instance (with -r, extract a tar stream into a directory)'
complete -c anklume-xfer -n "__fish_anklume_xfer_needs_command" -f -a "copy" -d 'Copy a file or a directory tree from one instance to another, keeping owners and modes'
complete -c anklume-xfer -n "__fish_anklume_xfer_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand pull" -l project -d 'The instance\'s project [default: found from the name]' -r
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand pull" -s r -l archive -d 'Write a tar stream (modes, owners, times and symlinks kept) of a file or a whole directory'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand pull" -l force -d 'Write a tar stream or a binary file even to a terminal'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand pull" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand pull" -s h -l help -d 'Print help'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -l project -d 'The instance\'s project [default: found from the name]' -r
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -l mode -d 'Permissions of the file, in octal [default: 0644]' -r
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -l uid -d 'Owner of the file [default: 0]' -r
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -l gid -d 'Group of the file [default: 0]' -r
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -s r -l archive -d 'Read a tar stream from stdin and extract it into the directory (created if missing)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -l keep-setid -d 'With -r, keep the setuid and setgid bits of the files received (dropped by default)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -s p -l parents -d 'Create the missing parent directories (0755), as `mkdir -p` and `incus file push -p` do'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand push" -s h -l help -d 'Print help'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand copy" -l src-project -d 'The source instance\'s project [default: found from the name]' -r
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand copy" -l dst-project -d 'The destination instance\'s project [default: found from the name]' -r
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand copy" -l keep-setid -d 'Keep the setuid and setgid bits of the files copied (dropped by default)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand copy" -s q -l quiet -d 'Errors only: no notes on stderr (an entry left out is still said)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand copy" -s h -l help -d 'Print help'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand help; and not __fish_seen_subcommand_from pull push copy help" -f -a "pull" -d 'Write a file of an instance to stdout (with -r, a tar stream of a file or directory)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand help; and not __fish_seen_subcommand_from pull push copy help" -f -a "push" -d 'Write stdin to a file of an instance (with -r, extract a tar stream into a directory)'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand help; and not __fish_seen_subcommand_from pull push copy help" -f -a "copy" -d 'Copy a file or a directory tree from one instance to another, keeping owners and modes'
complete -c anklume-xfer -n "__fish_anklume_xfer_using_subcommand help; and not __fish_seen_subcommand_from pull push copy help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
