import type { RunbookDescription } from '../engine/cli';

/** A bash or zsh completion script: runbooks, then their commands, then their flags. */
export function completionScript(shell: 'bash' | 'zsh', specs: RunbookDescription[]): string {
  const runbooks = specs.map((s) => s.runbook).concat('completion');
  const cases = specs
    .map((s) => `    ${s.runbook}) words="${[...s.commands, ...s.flags].join(' ')}" ;;`)
    .join('\n');
  const bash = `# tickvault bash completion: source <(tickvault completion bash)
_tickvault() {
  local cur=\${COMP_WORDS[COMP_CWORD]} words
  if [ "$COMP_CWORD" -eq 1 ]; then
    words="${runbooks.join(' ')}"
  else
    case "\${COMP_WORDS[1]}" in
${cases}
    completion) words="bash zsh" ;;
    *) words="" ;;
    esac
  fi
  COMPREPLY=( $(compgen -W "$words" -- "$cur") )
}
complete -o default -F _tickvault tickvault
`;
  if (shell === 'bash') return bash;
  return `#compdef tickvault
# tickvault zsh completion: source <(tickvault completion zsh)
autoload -U +X bashcompinit && bashcompinit
${bash}`;
}
