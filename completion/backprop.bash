# backprop.bash: bash completion for the backprop command, installed as
# share/bash-completion/completions/backprop (cmake/install.cmake), where
# bash-completion loads it the first time `backprop` is completed.
#
# The commands and each command's options are read from the program's own
# `backprop --help` and `backprop COMMAND --help`, so that they follow
# cli/main.c's table with nothing listed twice. Run ids and sweep ids come
# from the run log the command line names (--db PATH, else $BACKPROP_DB,
# else results/runs.db), read with `backprop query`; a script's parameters
# (key=) from the bp.param calls in its text. tests/lua/test_completion.lua
# checks each.

# The run log of the command line being completed.
_backprop_db() {
    local i db=
    for ((i = 2; i < cword; i++)); do
        [[ ${words[i]} == --db ]] && db=${words[i + 1]}
    done
    printf '%s\n' "${db:-${BACKPROP_DB:-results/runs.db}}"
}

# The ids of table $1 (runs or sweeps) of that run log, newest first.
_backprop_ids() {
    local db
    db=$(_backprop_db)
    [[ -f $db ]] || return
    "${words[0]}" query --db "$db" --csv \
        "SELECT id FROM $1 ORDER BY id DESC LIMIT 200" 2>/dev/null | tail -n +2
}

# The options a help text names: --long ones and -x ones.
_backprop_options() {
    "${words[0]}" "$@" --help 2>/dev/null |
        grep -oE '(^|[][ (|,])--?[a-zA-Z][-a-zA-Z]*' | grep -oE -- '--?[a-zA-Z][-a-zA-Z]*$' |
        grep -vxE -- '-[a-zA-Z][a-zA-Z]+' | sort -u
}

# The parameters script $1 reads with bp.param, as "key=".
_backprop_params() {
    [[ -f $1 ]] || return
    grep -oE "bp\.param\(\s*[\"'][A-Za-z_][A-Za-z0-9_]*" "$1" 2>/dev/null |
        sed -E "s/.*[\"']//; s/$/=/" | sort -u
}

# The first argument of the command that is neither an option nor an
# option's value: SCRIPT for run and sweep.
_backprop_script() {
    local i w
    for ((i = 2; i < cword; i++)); do
        w=${words[i]}
        case $w in
        --seed | --name | --db | --max-memory | --time-limit | --resume | --sweep | --trial | \
            -j | --jobs | --trials | --objective | --prune | --spec | --shard-db | --shards | \
            --sampler | --task | --shard-dir | --slurm | --parallel | --partition | --time | \
            --cpus-per-task | --mem | --account | --sbatch | --throttle | --retry | --rounds | \
            --per-round | --after-round | --setting | --repeats)
            ((i++)) ;;
        -*) ;;
        *)
            printf '%s\n' "$w"
            return
            ;;
        esac
    done
}

# COMPREPLY: the words of $1 that start with the word being completed.
# (COMPREPLY=($(compgen ...)) is bash-completion's own idiom: the words
# compgen prints are single words.)
_backprop_reply() {
    # shellcheck disable=SC2207
    COMPREPLY=($(compgen -W "$1" -- "$cur"))
}

# The commands, as `backprop --help` lists them.
_backprop_commands() {
    "${words[0]}" --help 2>/dev/null | sed -n 's/^  backprop \([a-z][a-z]*\).*/\1/p' | uniq
}

_backprop() {
    local cur prev words cword
    _init_completion || return

    if ((cword == 1)); then
        _backprop_reply "$(_backprop_commands) --help --version"
        return
    fi
    local cmd=${words[1]}

    case $prev in
    --db | --shard-db)
        _filedir db
        return
        ;;
    -o | --output)
        if [[ $cmd == plot ]]; then _filedir '@(png|svg)'; else _filedir; fi
        return
        ;;
    --spec)
        _filedir lua
        return
        ;;
    --slurm | --parallel)
        _filedir sh
        return
        ;;
    --shard-dir)
        _filedir -d
        return
        ;;
    --retry)
        _backprop_reply "failed"
        return
        ;;
    --resume)
        if [[ $cmd == sweep ]]; then
            _backprop_reply "$(_backprop_ids sweeps)"
        else
            _backprop_reply "$(_backprop_ids runs)"
        fi
        return
        ;;
    --sweep)
        _backprop_reply "$(_backprop_ids sweeps)"
        return
        ;;
    --status)
        _backprop_reply "running completed failed interrupted diverged crashed pruned"
        return
        ;;
    --prune)
        _backprop_reply "median halving hyperband"
        return
        ;;
    --sampler)
        _backprop_reply "random tpe tpe:multivariate"
        return
        ;;
    --objective)
        _backprop_reply "min: max:"
        [[ ${COMPREPLY-} == *: ]] && compopt -o nospace
        return
        ;;
    --max-memory)
        _backprop_reply "none"
        return
        ;;
    --host)
        _backprop_reply "127.0.0.1 ::1 0.0.0.0"
        return
        ;;
    --x)
        [[ $cmd == plot ]] && _backprop_reply "step epoch time"
        return
        ;;
    --seed | --name | --time-limit | --trial | -j | --jobs | --trials | --shards | --param | \
        --limit | --timeout | --sql-timeout | --metric | --title | --size | --port | --smooth | --task | \
        --partition | --time | --cpus-per-task | --mem | --account | --sbatch | --throttle | \
        --rounds | --per-round | --after-round | --setting)
        return
        ;;
    esac

    if [[ $cur == -* ]]; then
        if [[ $cmd == sweep && ${words[2]} == @(show|status) ]]; then
            _backprop_reply "$(_backprop_options sweep "${words[2]}")"
        else
            _backprop_reply "$(_backprop_options "$cmd")"
        fi
        return
    fi

    case $cmd in
    run | sweep)
        if [[ $cmd == sweep && $cword == 2 ]]; then
            _backprop_reply "show status"
        fi
        if [[ $cmd == sweep && ${words[2]} == status ]]; then
            return
        fi
        if [[ $cmd == sweep && ${words[2]} == show ]]; then
            _backprop_reply "$(_backprop_ids sweeps)"
            return
        fi
        local script
        script=$(_backprop_script)
        if [[ -z $script ]]; then
            _filedir lua
        else
            _backprop_reply "$(_backprop_params "$script")"
            compopt -o nospace
        fi
        ;;
    lua)
        if ((cword == 2)); then _filedir lua; else _filedir; fi
        ;;
    show | rm | export | plot)
        _backprop_reply "$(_backprop_ids runs)"
        ;;
    merge)
        _filedir db
        ;;
    help)
        ((cword == 2)) && _backprop_reply "$(_backprop_commands)"
        ;;
    esac
} &&
    complete -F _backprop backprop
