# bash completion for pez, the PEZ number dispenser's command-line tool. See pez(1).

# Sequence names: every sequence when pez admin list may be asked (admin rights), else the two
# that always exist.
_pez_sequences()
{
    local names
    names=$(pez "${1:+--socket}" ${1:+"$1"} --timeout 2s admin list --json 2>/dev/null |
        grep -o '"name": *"[a-z][a-z0-9_-]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    printf '%s\n' ${names:-forward reverse}
}

_pez()
{
    local cur prev words cword
    _init_completion || return

    local global_opts="--help --version --socket --timeout"
    local -A opts=(
        [forward]="--help --count -n --json"
        [reverse]="--help --count -n --json"
        [next]="--help --count -n --json"
        [admin]="--help"
        [status]="--help --json"
        [help]="--help"
        [admin_list]="--help --json"
        [admin_inspect]="--help --json"
        [admin_reset]="--help --to --json"
        [admin_create]="--help --start --min --max --increment --descending --no-cycle --mode --description --json"
        [admin_drop]="--help --json"
    )

    # The command so far (pez admin reset), skipping options and their values.
    local command="" socket="" i word
    for ((i = 1; i < cword; i++)); do
        word=${words[i]}
        case $word in
            --socket) socket=${words[i + 1]}; ((i++)); continue ;;
            --timeout | --count | -n | --to | --start | --min | --max | --increment | --mode | --description)
                ((i++)); continue ;;
            -*) continue ;;
        esac
        if [[ -z $command ]]; then
            command=$word
        elif [[ $command == admin && -z ${opts[admin_$word]+set} ]]; then
            break
        elif [[ $command == admin ]]; then
            command=admin_$word
        else
            break
        fi
    done

    case $prev in
        --socket)
            _filedir
            return ;;
        --mode)
            COMPREPLY=($(compgen -W "strict block" -- "$cur"))
            return ;;
        --timeout | --count | -n | --to | --start | --min | --max | --increment | --description)
            return ;;
    esac

    if [[ $cur == -* ]]; then
        # Options of pez itself are taken after a command too.
        if [[ -z $command ]]; then
            COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
        else
            COMPREPLY=($(compgen -W "${opts[$command]-} --socket --timeout" -- "$cur"))
        fi
        return
    fi
    case $command in
        "")
            COMPREPLY=($(compgen -W "forward reverse next admin status help" -- "$cur")) ;;
        help)
            # The command to explain, then its subcommand.
            if [[ $prev == help ]]; then
                COMPREPLY=($(compgen -W "forward reverse next admin status help" -- "$cur"))
            elif [[ $prev == admin ]]; then
                COMPREPLY=($(compgen -W "list inspect reset create drop" -- "$cur"))
            fi ;;
        admin)
            COMPREPLY=($(compgen -W "list inspect reset create drop" -- "$cur")) ;;
        next | admin_inspect | admin_reset | admin_drop)
            # One name, right after the command.
            if [[ $prev == "${command#admin_}" ]]; then
                COMPREPLY=($(compgen -W "$(_pez_sequences "$socket")" -- "$cur"))
            fi ;;
    esac
}
complete -F _pez pez
