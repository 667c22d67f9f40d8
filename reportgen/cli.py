"""The `reportgen` command line: the commands of reportgen.commands gathered into one Click group.

Commands that only read bundles (render, verify, compare, grade) never import torch; the commands
that train or predict import it only after their arguments, config and paths are checked. A user's
mistake ends in one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import functools
import signal
import sys

import click

from reportgen import __version__
from reportgen.commands.bench import bench
from reportgen.commands.build import build
from reportgen.commands.compare import compare
from reportgen.commands.evaluate import evaluate
from reportgen.commands.grade import grade
from reportgen.commands.render import render
from reportgen.commands.verify import verify
from reportgen.errors import ReportgenError, one_line
from reportgen.rank_plan import is_primary_process

COMMANDS = (build, evaluate, render, verify, compare, grade, bench)


class Group(click.Group):
    """Turns ReportgenError, Ctrl-C and SIGTERM into one line and an exit code, never a traceback.

    Ctrl-C exits 130 and SIGTERM (sent by `timeout`, CI runners and schedulers) 143, as a shell's
    signalled process would; a build's line says what the run store kept and what the next build does.
    """

    def invoke(self, ctx: click.Context):
        received: list[int] = []
        previous = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGTERM)}
        for signum in previous:
            signal.signal(signum, functools.partial(_interrupt, received))
        try:
            return super().invoke(ctx)
        except ReportgenError as exc:
            click.echo(f"error: {one_line(str(exc))}", err=True)  # a folder name may hold a line break
            sys.exit(exc.exit_code)
        except KeyboardInterrupt as exc:
            signum = received[0] if received else signal.SIGINT
            if is_primary_process():  # the extra DDP processes of a build would repeat rank 0's line
                click.echo(f"interrupted ({_SIGNAL_NAMES[signum]}){_interruption_detail(ctx, exc)}", err=True)
            sys.exit(128 + signum)
        finally:
            for signum, handler in previous.items():
                signal.signal(signum, handler)


_SIGNAL_NAMES = {signal.SIGINT: "Ctrl-C", signal.SIGTERM: "SIGTERM"}


def _interrupt(received: list[int], signum: int, frame) -> None:
    """The first signal stops the command the way Ctrl-C does (Lightning then shuts training down cleanly);
    later ones are noted only, so that they cannot break off the clean-up."""
    received.append(signum)
    if len(received) == 1:
        raise KeyboardInterrupt


def _interruption_detail(ctx: click.Context, exc: KeyboardInterrupt) -> str:
    if ctx.invoked_subcommand != "build":
        return ""
    # reportgen.build.BuildInterrupted says what the run store kept and whether the next build resumes
    return f": nothing was published; {exc}" if str(exc) else ": nothing was published"


@click.group(cls=Group, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="reportgen")
def main() -> None:
    """Train the seed study's CNN and Vision Transformer on CIFAR-10 and write their comparative
    report (HTML and PDF) into a results bundle.

    \b
    Quick start, offline on a CPU (the sample that ships with reportgen):
      reportgen build --preset quick
    """


for command in COMMANDS:
    main.add_command(command)

if __name__ == "__main__":
    main()
