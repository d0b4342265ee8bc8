# Print an optspec for argparse to handle cmd's options that are independent of any subcommand.
function __fish_anklume_golden_global_optspecs
    string join \n q/quiet h/help V/version
end

function __fish_anklume_golden_needs_command
    # Figure out if the current invocation already has a command.
    set -l cmd (commandline -opc)
    set -e cmd[1]
    argparse -s (__fish_anklume_golden_global_optspecs) -- $cmd 2>/dev/null
    or return
    if set -q argv[1]
        # Also print the command, so this can be used to figure out what it is.
        echo $argv[1]
        return 1
    end
    return 0
end

function __fish_anklume_golden_using_subcommand
    set -l cmd (__fish_anklume_golden_needs_command)
    test -z "$cmd"
    and return 1
    contains -- $cmd[1] $argv
end

complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -s h -l help -d 'Print help (see more with \'--help\')'
complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -s V -l version -d 'Print version'
complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -f -a "create" -d 'Stop NAME ([REMOTE:]NAME) cleanly and take its `pristine` snapshot (replacing the previous one atomically, never expiring); NAME stays stopped'
complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -f -a "derive" -d 'Create each NEW as a copy of NAME\'s `pristine` snapshot, in NAME\'s project'
complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -f -a "publish" -d 'Publish NAME\'s `pristine` snapshot as an Incus image under ALIAS'
complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -f -a "list" -d 'List the golden images (instances with a `pristine` snapshot)'
complete -c anklume-golden -n "__fish_anklume_golden_needs_command" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand create" -l project -d 'Its project [default: found from the name]' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand create" -l timeout -d 'How long a clean stop may take (at least 1: Incus takes 0 as "force the stop now")' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand create" -l force -d 'Force the stop when a clean stop does not end within --timeout'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand create" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand create" -s h -l help -d 'Print help'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand derive" -l project -d 'The golden instance\'s project [default: found from the name]' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand derive" -l ipv4 -d 'Static IPv4 address of the clone, replacing the template\'s (only with one NEW)' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand derive" -l target -d 'Make the clones on this member of NAME\'s cluster' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand derive" -l start -d 'Start the new instances'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand derive" -l spread -d 'Place the clones round-robin over the members of NAME\'s cluster that are online'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand derive" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand derive" -s h -l help -d 'Print help'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand publish" -l alias -d 'Alias of the image' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand publish" -l project -d 'The golden instance\'s project [default: found from the name]' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand publish" -l reuse -d 'Replace the image an existing ALIAS points to'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand publish" -l public -d 'Make the image public (readable by untrusted clients)'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand publish" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand publish" -s h -l help -d 'Print help'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand list" -l project -d 'Only this project [default: all projects]' -r
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand list" -l format -d 'Output format' -r -f -a "table\t''
json\t''
csv\t''"
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand list" -l all-remotes -d 'List the golden images of every Incus remote of the client, with a REMOTE column; a remote that does not answer is a row saying so'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand list" -s q -l quiet -d 'Errors only: nothing on stderr but them'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand list" -s h -l help -d 'Print help'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand help; and not __fish_seen_subcommand_from create derive publish list help" -f -a "create" -d 'Stop NAME ([REMOTE:]NAME) cleanly and take its `pristine` snapshot (replacing the previous one atomically, never expiring); NAME stays stopped'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand help; and not __fish_seen_subcommand_from create derive publish list help" -f -a "derive" -d 'Create each NEW as a copy of NAME\'s `pristine` snapshot, in NAME\'s project'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand help; and not __fish_seen_subcommand_from create derive publish list help" -f -a "publish" -d 'Publish NAME\'s `pristine` snapshot as an Incus image under ALIAS'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand help; and not __fish_seen_subcommand_from create derive publish list help" -f -a "list" -d 'List the golden images (instances with a `pristine` snapshot)'
complete -c anklume-golden -n "__fish_anklume_golden_using_subcommand help; and not __fish_seen_subcommand_from create derive publish list help" -f -a "help" -d 'Print this message or the help of the given subcommand(s)'
