"""One module per node of the turn pipeline (see ../shared/ARCHITECTURE.md)."""

from grounddesk.agent.nodes._timing import compute_slot, network_wait
from grounddesk.agent.nodes.act import make_act
from grounddesk.agent.nodes.compose import make_compose
from grounddesk.agent.nodes.decide import decide_route, make_decide
from grounddesk.agent.nodes.escalate import make_escalate
from grounddesk.agent.nodes.guard import make_guard
from grounddesk.agent.nodes.mode import make_mode_check, mode_route
from grounddesk.agent.nodes.receive import make_receive, receive_route
from grounddesk.agent.nodes.respond import make_respond
from grounddesk.agent.nodes.retrieve import make_retrieve
from grounddesk.agent.nodes.score import make_score
from grounddesk.agent.nodes.understand import make_understand, make_understand_route, understand_route

__all__ = [
    "compute_slot",
    "decide_route",
    "make_act",
    "make_compose",
    "make_decide",
    "make_escalate",
    "make_guard",
    "make_mode_check",
    "make_receive",
    "make_respond",
    "make_retrieve",
    "make_score",
    "make_understand",
    "make_understand_route",
    "mode_route",
    "network_wait",
    "receive_route",
    "understand_route",
]
