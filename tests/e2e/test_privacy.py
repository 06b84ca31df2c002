"""End to end: personal data never reaches a channel in clear.

Resident ID numbers, mobile numbers and bank card numbers in the title, summary
or body are masked in the envelope's public text (every channel renders from
it), counted in the tags' redactions, and absent from the portal page; for the
doc_types in classifier.privacy_hold (the test stack holds public_list) the
release is held for review instead. Numbers that only look alike stay."""

import pytest

COLUMN = "czyjs/zfys"
ID = "370202198506152348"  # valid MOD 11-2 check digit
ID_MASKED = "370202********2348"
MOBILE, MOBILE_MASKED = "13812345678", "138****5678"
CARD, CARD_MASKED = "6222021234567890128", "***************0128"  # passes Luhn
NOT_AN_ID = "370202198506152341"  # wrong check digit
DOC_NUMBER = "青政办发〔2020〕12号"


@pytest.fixture(scope="module")
def demo_token(token):
    return token("demo")


def test_personal_data_is_masked_everywhere(
    stack, demo_token, make_release, release_id, post_release, consume_until, wait_http,
):
    release = make_release(
        title=f"关于张三（联系电话{MOBILE}）补贴发放的公告",
        summary=f"身份证号{ID}",
        body=f"<p>根据{DOC_NUMBER}，向账户{CARD}发放补贴；编号{NOT_AN_ID}。</p>"
             f"<table><tr><td>张三</td><td>{ID}</td><td>{MOBILE}</td></tr></table>",
    )
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    public = tagged["value"]["public"]
    text = public["title"] + public["summary"] + public["body"]
    for clear in (ID, MOBILE, CARD):
        assert clear not in text
    assert MOBILE_MASKED in public["title"] and ID_MASKED in public["summary"]
    assert CARD_MASKED in public["body"] and NOT_AN_ID in public["body"] and DOC_NUMBER in public["body"]
    redactions = {r["kind"]: r["count"] for r in tagged["value"]["tags"]["redactions"]}
    assert redactions == {"id_card": 2, "mobile": 2, "bank_card": 1}
    # The release as sent is kept in the envelope for the record; channels use public.
    assert tagged["value"]["release"]["summary"] == release["summary"]
    page = wait_http(f"{stack.portal_url}/zwgk/{COLUMN}/{rid}.html", 200, contains=ID_MASKED)
    for clear in (ID, MOBILE, CARD):
        assert clear not in page.text


def test_public_list_with_personal_data_is_held(
    demo_token, make_release, release_id, post_release, consume_until,
):
    release = make_release(doc_type="public_list", title="2025年低保对象公示",
                           body=f"<table><tr><td>李四</td><td>{ID}</td></tr></table>")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [held] = consume_until("zwgk.review", lambda m: m["key"] == rid)
    assert held["value"]["review"]["reasons"] == ["privacy"]
    assert "1 resident ID" in held["value"]["review"]["detail"]


def test_public_list_without_personal_data_passes(
    demo_token, make_release, release_id, post_release, consume_until,
):
    release = make_release(doc_type="public_list", title="2025年低保对象公示（汇总）",
                           body="<p>共计1,234户，发放金额12,345,678.90元，联系电话0532-88881234。</p>")
    rid = release_id("demo", release["source_id"])
    assert post_release(release, demo_token).status_code == 202
    [tagged] = consume_until("zwgk.tagged", lambda m: m["key"] == rid)
    assert tagged["value"]["tags"]["redactions"] == []
    assert tagged["value"]["public"]["body"] == release["body"]
