"""The actor slot state machine, without Ray: every transition from every state, and what each one records."""

from __future__ import annotations

import pytest

from workers.errors import SlotTransitionError
from workers.slots import TRANSITIONS, Slot, SlotState

S = SlotState

# The legal moves, written out here independently of ``TRANSITIONS``: (transition, from) -> to.
EXPECTED = {
    ("placed", S.STARTING): S.LOADING,
    ("loaded", S.LOADING): S.IDLE,
    ("join", S.STARTING): S.PROBING,
    ("start_unit", S.IDLE): S.BUSY,
    ("finish_unit", S.BUSY): S.IDLE,
    ("abandon_unit", S.BUSY): S.IDLE,
    ("restarted", S.IDLE): S.IDLE,
    ("mark_dead", S.BUSY): S.WAITING,
    ("start_probe", S.WAITING): S.PROBING,
    ("still_unavailable", S.PROBING): S.WAITING,
    ("abandon_probe", S.PROBING): S.WAITING,
    ("rejoin", S.PROBING): S.IDLE,
    **{("drop", state): S.GONE for state in SlotState if state is not S.GONE},
}

# Arguments of each transition method.
ARGS: dict[str, tuple] = {
    "placed": ("host:1:a",),
    "loaded": ("host:1:a",),
    "join": (5.0,),
    "start_unit": ((1, 2, 3),),
    "finish_unit": (),
    "abandon_unit": (),
    "restarted": ("host:2:b",),
    "mark_dead": (7.0,),
    "start_probe": (),
    "still_unavailable": (9.0,),
    "abandon_probe": (),
    "rejoin": ("host:3:c",),
    "drop": (),
}

# A path of legal transitions from a new slot to each state.
PATHS: dict[SlotState, list[str]] = {
    S.STARTING: [],
    S.LOADING: ["placed"],
    S.IDLE: ["placed", "loaded"],
    S.BUSY: ["placed", "loaded", "start_unit"],
    S.WAITING: ["placed", "loaded", "start_unit", "mark_dead"],
    S.PROBING: ["placed", "loaded", "start_unit", "mark_dead", "start_probe"],
    S.GONE: ["drop"],
}


def slot_in(state: SlotState) -> Slot:
    slot = Slot(name="engine-0", handle=object())
    for transition in PATHS[state]:
        getattr(slot, transition)(*ARGS[transition])
    assert slot.state is state
    return slot


def test_the_transition_table_names_exactly_the_tested_transitions():
    assert set(TRANSITIONS) == set(ARGS) == {transition for transition, _ in EXPECTED}


@pytest.mark.parametrize("state", list(SlotState), ids=lambda s: s.value)
@pytest.mark.parametrize("transition", list(ARGS))
def test_every_transition_from_every_state_moves_as_documented_or_is_refused(transition, state):
    slot = slot_in(state)
    move = getattr(slot, transition)
    if (transition, state) in EXPECTED:
        move(*ARGS[transition])
        assert slot.state is EXPECTED[transition, state]
    else:
        with pytest.raises(SlotTransitionError, match=rf"engine-0: cannot {transition} while {state.value} \(only"):
            move(*ARGS[transition])
        assert slot.state is state  # a refused transition changes nothing


def test_a_new_slot_is_starting_and_takes_no_unit_until_placed_and_loaded():
    slot = Slot(name="engine-3", handle=object())
    assert slot.state is S.STARTING and slot.is_live and not slot.can_take_unit and not slot.recovering
    slot.placed("host:1:a")
    assert slot.incarnation == "host:1:a" and not slot.can_take_unit
    slot.loaded("host:1:a")
    assert slot.can_take_unit and slot.next_due(600.0) is None


def test_a_prefix_is_warmed_once_until_the_slot_forgets_it():
    slot = slot_in(S.IDLE)
    assert slot.start_unit((1, 2)) is True and slot.warmed_prefix == (1, 2)
    slot.finish_unit()
    assert slot.start_unit((1, 2)) is False
    slot.finish_unit()
    assert slot.start_unit((3,)) is True and slot.warmed_prefix == (3,)
    slot.finish_unit()
    slot.forget_warm()
    assert slot.warmed_prefix is None and slot.start_unit((3,)) is True


def test_a_restart_seen_in_a_reply_records_the_new_incarnation_and_forgets_the_warm_prefix():
    slot = slot_in(S.BUSY)
    slot.finish_unit()
    slot.restarted("host:9:z")
    assert slot.incarnation == "host:9:z" and slot.warmed_prefix is None and slot.can_take_unit


def test_a_dead_actor_is_probed_at_once_and_dropped_after_the_recovery_timeout():
    slot = slot_in(S.BUSY)
    slot.mark_dead(100.0)
    assert slot.recovering and not slot.can_take_unit and slot.warmed_prefix is None
    assert slot.probe_due(100.0) and not slot.probe_due(99.9)
    assert slot.next_due(30.0) == 100.0  # the probe comes before the end of the recovery time
    assert not slot.recovery_expired(129.9, 30.0) and slot.recovery_expired(130.0, 30.0)

    slot.start_probe()
    assert slot.recovering and not slot.probe_due(200.0)  # a probe in flight: none is due
    assert slot.next_due(30.0) == 130.0

    slot.still_unavailable(retry_at=101.0)
    assert slot.state is S.WAITING and not slot.probe_due(100.5) and slot.probe_due(101.0)
    assert slot.next_due(30.0) == 101.0
    assert slot.failed_at == 100.0  # probing again does not extend the recovery time


def test_a_slot_that_is_back_takes_units_again():
    slot = slot_in(S.PROBING)
    slot.rejoin("host:4:d")
    assert slot.incarnation == "host:4:d" and slot.can_take_unit and not slot.recovering
    assert slot.next_due(30.0) is None and not slot.recovery_expired(1e9, 30.0)


def test_a_joining_actor_counts_as_recovering_from_when_it_joined():
    slot = Slot(name="engine-5", handle=object())
    slot.join(50.0)
    assert slot.recovering and not slot.probe_due(1e9)  # its probe is already in flight
    assert slot.next_due(10.0) == 60.0 and slot.recovery_expired(60.0, 10.0)
    slot.rejoin("host:5:e")
    assert slot.can_take_unit


def test_a_run_closed_early_leaves_a_probing_slot_due_for_a_probe_and_a_busy_one_free():
    probing = slot_in(S.PROBING)
    probing.abandon_probe()
    assert probing.state is S.WAITING and probing.probe_due(probing.failed_at)

    busy = slot_in(S.BUSY)
    busy.abandon_unit()
    assert busy.can_take_unit and busy.warmed_prefix == (1, 2, 3)  # the actor keeps what it warmed


def test_a_gone_slot_is_out_for_good():
    slot = slot_in(S.WAITING)
    slot.drop()
    assert not slot.is_live and not slot.recovering and not slot.probe_due(1e9) and slot.next_due(1.0) is None
    with pytest.raises(SlotTransitionError, match="cannot forget_warm while gone"):
        slot.forget_warm()
