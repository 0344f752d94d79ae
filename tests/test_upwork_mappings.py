"""The rules of changing Upwork user mappings (pure: no I/O)."""

from __future__ import annotations

from connectors.awork import AworkUser
from models.upwork_store import CONFIRMED, SUGGESTED, UNMAPPED, UpworkUserMapping
from tasks.upwork_mappings import INVITED, Invitee, confirmable, invitation_state, locked_refusal, user_with_email


def mapping(freelancer: str, user: str | None, state: str = SUGGESTED, org: str = "o1", locked: bool = False):
    return UpworkUserMapping(
        organization_id=org, freelancer_id=freelancer, awork_user_id=user, state=state, locked=locked
    )


def test_confirm_all_takes_single_suggestions_and_leaves_shared_unmapped_and_invited_ones():
    single, other_org = mapping("f1", "u1"), mapping("f1", "u2", org="o2")
    twins = [mapping("f2", "u2"), mapping("f3", "u2")]  # two freelancers suggested as the same awork user
    unmapped, invited = mapping("f4", None, UNMAPPED), mapping("f5", "u5", INVITED, locked=True)
    done = mapping("f6", "u6", CONFIRMED, locked=True)
    sure, rest = confirmable([single, other_org, *twins, unmapped, invited, done])
    assert sure == [single, other_org]
    assert rest == [*twins, unmapped, invited]


def test_a_suggestion_is_ambiguous_beside_a_confirmed_mapping_to_the_same_user():
    sure, rest = confirmable([mapping("f1", "u1", CONFIRMED, locked=True), mapping("f2", "u1")])
    assert (sure, [m.freelancer_id for m in rest]) == ([], ["f2"])


def test_a_locked_mapping_refuses_another_user_unless_forced():
    locked = mapping("f1", "u1", CONFIRMED, locked=True)
    refusal = locked_refusal(locked, "u2", force=False)
    assert refusal and "locked to awork user u1" in refusal and "map-user f1 --org o1 --unlock" in refusal
    assert locked_refusal(locked, "u2", force=True) is None
    assert locked_refusal(locked, "u1", force=False) is None  # the same user is no change
    assert locked_refusal(mapping("f1", "u1"), "u2", force=False) is None  # a suggestion is not locked


def test_an_invitee_is_confirmed_once_accepted():
    assert invitation_state(Invitee("u1", accepted=False, invited_now=True), "a@b.example")[0] == INVITED
    assert invitation_state(Invitee("u1", accepted=True), "a@b.example") == (
        CONFIRMED,
        "invited as a@b.example, accepted",
    )


def test_user_with_email_looks_at_every_email_ignoring_case_and_spaces():
    user = AworkUser.model_validate(
        {
            "id": "u1",
            "userContactInfos": [{"type": "phone", "value": "a@b.example"}, {"type": "email", "value": " A@B.example"}],
        }
    )
    assert user_with_email([user], "a@b.example ") is user
    assert user_with_email([user], "c@b.example") is None
