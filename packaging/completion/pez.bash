# bash completion for pez, the PEZ number dispenser's command-line tool. See pez(1).

# Sequence names: every sequence when pez admin list may be asked (admin rights), else the two
# that always exist.
# With --socket on the command line, that socket; else pez's own choice (PEZ_SOCKET, the default).
_pez_sequences()
{
    local names socket_args=()
    [[ -n $1 ]] && socket_args=(--socket "$1")
    names=$(pez "${socket_args[@]}" --timeout 2s admin list --json 2>/dev/null |
        grep -o '"name": *"[a-z][a-z0-9_-]*"' | sed 's/.*"\([^"]*\)"$/\1/')
    printf '%s\n' ${names:-forward reverse}
}

_pez()
{
    local cur prev words cword
    _init_completion || return

    # As pez --help and pez help COMMAND list them (tests/integration/test_completion.py).
    local global_opts="-h --help --version --socket --timeout"
    local -A opts=(
        [forward]="-h --help --count -n --json"
        [reverse]="-h --help --count -n --json"
        [next]="-h --help --count -n --json"
        [check]="-h --help -q --quiet"
        [admin]="-h --help"
        [status]="-h --help --json"
        [help]="-h --help"
        [admin_list]="-h --help --json"
        [admin_inspect]="-h --help --json"
        [admin_reset]="-h --help --to --json"
        [admin_create]="-h --help --start --min --max --increment --descending --no-cycle --mode --description --format --period --timezone --check --json"
        [admin_drop]="-h --help --json"
    )

    # The command so far (pez admin reset), skipping options and their values, and how many
    # arguments follow it.
    local command="" socket="" i word nargs=0
    for ((i = 1; i < cword; i++)); do
        word=${words[i]}
        case $word in
            --socket) socket=${words[i + 1]}; ((i++)); continue ;;
            --socket=*) socket=${word#--socket=}; continue ;;
            --timeout | --count | -n | --to | --start | --min | --max | --increment | --mode | --description | \
                --format | --period | --timezone | --check)
                ((i++)); continue ;;
            -*) continue ;;
        esac
        if [[ -z $command ]]; then
            command=$word
        elif [[ $command == admin && -n ${opts[admin_$word]+set} ]]; then
            command=admin_$word
        else
            ((nargs++))
        fi
    done

    case $prev in
        --socket)
            _filedir
            return ;;
        --mode)
            COMPREPLY=($(compgen -W "strict block" -- "$cur"))
            return ;;
        --period)
            COMPREPLY=($(compgen -W "yearly monthly daily" -- "$cur"))
            return ;;
        --check)
            COMPREPLY=($(compgen -W "luhn damm mod97" -- "$cur"))
            return ;;
        --timezone)
            local zones
            zones=$(cd /usr/share/zoneinfo 2>/dev/null && find . -type f -name '[A-Z]*' ! -name '*.tab' 2>/dev/null | sed 's|^\./||')
            COMPREPLY=($(compgen -W "$zones" -- "$cur"))
            return ;;
        --timeout | --count | -n | --to | --start | --min | --max | --increment | --description | --format)
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
            COMPREPLY=($(compgen -W "forward reverse next check admin status help" -- "$cur")) ;;
        help)
            # The command to explain, then its subcommand.
            if ((nargs == 0)); then
                COMPREPLY=($(compgen -W "forward reverse next check admin status help" -- "$cur"))
            elif ((nargs == 1)) && [[ $prev == admin ]]; then
                COMPREPLY=($(compgen -W "list inspect reset create drop" -- "$cur"))
            fi ;;
        admin)
            COMPREPLY=($(compgen -W "list inspect reset create drop" -- "$cur")) ;;
        next | check | admin_inspect | admin_reset | admin_drop)
            # One name.
            if ((nargs == 0)); then
                COMPREPLY=($(compgen -W "$(_pez_sequences "$socket")" -- "$cur"))
            fi ;;
    esac
}
complete -F _pez pez
