"""SMS-SUBMIT PDUs: published vectors, Chinese in UCS-2, concatenated parts, refused input.

Vectors: "hello" is the classic GSM 03.40 tutorial PDU; "Hello World!", a Chinese greeting and the
three-part Lorem ipsum message are from python-gsmmodem's test suite (test/test_pdu.py), whose
first octet differs from ours (no validity period there), so their user data is compared.
"""

from __future__ import annotations

import pytest

from app.hardware.sms.pdu import (
    MAX_PARTS,
    SEPTETS_PART,
    UCS2_PART,
    Concat,
    decode_submit,
    encode_submit,
    is_gsm7,
)

LOREM = (
    "Lorem ipsum dolor sit amet, consectetur adipisicing elit, sed do eiusmod tempor incididunt "
    "ut labore et dolore magna aliqua.Ut enim ad minim veniam, quinostrud exercitation ullamco "
    "laboris nisi ut aliquip ex ea commodo consequat.Duis aute irure dolor in reprehenderit in "
    "voluptate velit esse cillum doloe eu fugiat nulla pariatur.Excepteur sint occaecat "
    "cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum"
)
LOREM_USER_DATA = (  # TP-UDL and TP-UD of each part, reference 0
    "A0050003000301986F79B90D4AC3E7F53688FC66BFE5A0799A0E0AB7CB741668FC76CFCB637A995E9783C2E434"
    "3C3D4F8FD3EE33A8CC4ED359A079990C22BF41E5747DDE7E9341F4721BFE9683D2EE719A9C26D7DD74509D0E62"
    "87C56F791954A683C86FF65B5E06B5C36777181466A7E3F5B0AB4A0795DDE936284C06B5D3EE741B642FBBD3E13"
    "60B14AFA7DD",
    "A0050003000302DE73BABC4E0695F165F9384D0FD3D36F37A8CE6687DBE337881D16BFE5E939C89D9EA741753A"
    "28CC4EC7EB6938A88C0795C3A0F1BBDD7E93DFA0F1DB3D2FC7EB61BA8B584FCF41E13ABD0C4ACBEBF23288FC66B"
    "FE5A0B41B242FC3E56574D94D2ECBD37450DA0DB2BFD975383D4C2F83EC65769A0E2ACFE765D038CD66D7DB20F2"
    "9BFD2E83CA",
    "8C050003000303EA2073FD9C0ED341EE3A9B1D06C1C3F274985E97BB8AF871194E2FD7E5A079DA4D07BDC7E370"
    "791CA683C675789A1CA687E920F7DB0D82CBDF6972D94D6781E675371D947683C675363C0C8AD7D3A0B7D99C1EA"
    "7C32072795E96D7DD7450FBCD66A7E9A0B03BDD06A5C9A0F29C0E6287C56F79BD0D",
)
CHINESE = "尊敬的住户：您的电费余额为12.50元，已低于提醒线，请及时充值。"


def user_data(pdu_hex: str) -> str:
    """TP-UDL and TP-UD of one of our PDUs (fixed header: 00 SMSC, first octet, MR, address,
    PID, DCS, VP)."""
    digits = int(pdu_hex[6:8], 16)
    return pdu_hex[2 + 2 + 2 + 4 + 2 * ((digits + 1) // 2) + 6 :]


def dcs(pdu_hex: str) -> str:
    """TP-DCS of one of our PDUs: 00 for GSM 7-bit, 08 for UCS-2."""
    at = 10 + 2 * ((int(pdu_hex[6:8], 16) + 1) // 2) + 2
    return pdu_hex[at : at + 2]


def test_hello_is_the_published_7bit_pdu() -> None:
    assert encode_submit("+31641600986", "hello") == [
        ("0011000B911346610089F60000AA05E8329BFD06", 19)
    ]


def test_tpdu_length_is_the_octets_after_the_smsc_prefix() -> None:
    for pdu_hex, length in encode_submit("+8613800138000", CHINESE + "x" * 100):
        assert pdu_hex.startswith("00")
        assert length == len(pdu_hex) // 2 - 1


def test_hello_world_7bit_and_chinese_ucs2_user_data() -> None:
    [(hello, _)] = encode_submit("+27820001111", "Hello World!")
    assert user_data(hello) == "0CC8329BFD065DDF72363904"
    [(chinese, length)] = encode_submit("+123456789", "世界您好！")
    assert chinese == "001100099121436587F90008AA0A4E16754C60A8597DFF01"
    assert length == 23


def test_chinese_goes_in_ucs2_and_decodes_back() -> None:
    [(pdu_hex, _)] = encode_submit("+8613800138000", CHINESE)
    assert dcs(pdu_hex) == "08"
    assert pdu_hex.startswith("0011000D91683108108300F0")  # +8613800138000, international
    assert decode_submit(pdu_hex) == ("+8613800138000", CHINESE, None)


def test_national_number_uses_type_81() -> None:
    [(pdu_hex, _)] = encode_submit("13800138000", "Low balance")
    assert pdu_hex.startswith("0011000B813108108300F0")
    assert decode_submit(pdu_hex).to == "13800138000"


def test_lorem_ipsum_splits_as_the_published_three_parts() -> None:
    pdus = encode_submit("+15125551234", LOREM, reference=0)
    assert [user_data(pdu_hex) for pdu_hex, _ in pdus] == list(LOREM_USER_DATA)
    assert "".join(decode_submit(pdu_hex).text for pdu_hex, _ in pdus) == LOREM


def test_a_200_character_message_goes_in_two_concatenated_parts() -> None:
    text = "Your supply at room 0412 was restored. " * 5 + "Thanks"
    assert len(text) > 160
    pdus = encode_submit("+8613800138000", text[:200], reference=42)
    decoded = [decode_submit(pdu_hex) for pdu_hex, _ in pdus]
    assert [d.udh for d in decoded] == [Concat(42, 2, 1), Concat(42, 2, 2)]
    assert len(decoded[0].text) == SEPTETS_PART
    assert "".join(d.text for d in decoded) == text[:200]
    assert all(pdu_hex[2:4] == "51" for pdu_hex, _ in pdus)  # UDHI set


def test_long_chinese_splits_at_67_characters() -> None:
    text = CHINESE * 3
    pdus = encode_submit("+8613800138000", text, reference=7)
    decoded = [decode_submit(pdu_hex) for pdu_hex, _ in pdus]
    assert [len(d.text) for d in decoded[:-1]] == [UCS2_PART] * (len(decoded) - 1)
    assert "".join(d.text for d in decoded) == text


def test_seventy_chinese_characters_fit_one_sms_and_160_gsm_characters_too() -> None:
    assert len(encode_submit("10086", "电" * 70)) == 1
    assert len(encode_submit("10086", "电" * 71)) == 2
    assert len(encode_submit("10086", "a" * 160)) == 1
    assert len(encode_submit("10086", "a" * 161)) == 2


def test_extension_characters_are_escape_pairs_and_never_cut() -> None:
    assert is_gsm7("Balance €12.50 [room {3}] ~^|\\")
    [(pdu_hex, _)] = encode_submit("10086", "€")
    assert user_data(pdu_hex) == "029B32"  # two septets: ESC, 0x65
    text = "x" * 152 + "€" * 10  # the 153rd septet would cut the first €
    first, second = (decode_submit(pdu_hex) for pdu_hex, _ in encode_submit("10086", text))
    assert first.text == "x" * 152
    assert second.text == "€" * 10


def test_emoji_is_never_cut_between_parts() -> None:
    text = "余" * 66 + "😀" + "额" * 3  # 71 UTF-16 units: two parts, the 67th unit is half 😀
    first, second = (decode_submit(pdu_hex) for pdu_hex, _ in encode_submit("10086", text))
    assert first.text == "余" * 66
    assert second.text == "😀额额额"


def test_gsm_alphabet_special_characters_round_trip() -> None:
    text = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ!\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà"
    assert is_gsm7(text)
    [(pdu_hex, _)] = encode_submit("10086", text)
    assert dcs(pdu_hex) == "00"
    assert decode_submit(pdu_hex).text == text


def test_more_than_eight_parts_is_refused() -> None:
    assert len(encode_submit("10086", "a" * SEPTETS_PART * MAX_PARTS)) == MAX_PARTS
    with pytest.raises(ValueError, match=r"9 SMS parts, at most 8.*shorten"):
        encode_submit("10086", "a" * (SEPTETS_PART * MAX_PARTS + 1))
    with pytest.raises(ValueError, match=r"67 characters per part.*Chinese"):
        encode_submit("10086", "电" * (UCS2_PART * MAX_PARTS + 1))


@pytest.mark.parametrize(
    "number", ["", "+", "138 0013 8000", "+86-138", "tenant", "++8613800138000", "1" * 21]
)
def test_bad_numbers_are_refused_naming_the_number(number: str) -> None:
    with pytest.raises(ValueError, match=r"digits") as caught:
        encode_submit(number, "hello")
    assert repr(number) in str(caught.value)


def test_empty_text_and_bad_reference_are_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        encode_submit("10086", "")
    with pytest.raises(ValueError, match="0 to 255"):
        encode_submit("10086", "x" * 200, reference=256)


def test_published_submit_pdus_with_an_smsc_decode() -> None:
    assert decode_submit(
        "07911326040000F0310D0B911326880736F40000A90FF7FBDD454E87CDE1B0DB357EB701"
    ) == ("+31628870634", "www.diafaan.com", None)
    assert decode_submit("07914346466554F601000B914316565811F9000806304253F68449") == (
        "+34616585119",
        "あ叶葉",
        None,
    )


def test_a_16bit_concatenation_reference_is_read() -> None:
    # UDH 06 08 04 0180 02 01, then "Hi" in UCS-2: UDL 7 + 4 = 11 octets.
    pdu_hex = "00410005812143F500080B060804018002010048" + "0069"
    assert decode_submit(pdu_hex) == ("12345", "Hi", Concat(0x0180, 2, 1))


@pytest.mark.parametrize(
    ("pdu_hex", "message"),
    [
        ("00GG", "not a hex string"),
        ("0004000B911346610089F60000AA05E8329BFD06", "not an SMS-SUBMIT"),
        ("0011000B911346610089F60000AA05E8329B", "user data has 3 octets"),
        ("0011000B9113466100", "ends early"),
        ("0011000B911346610089F60004AA0148", "neither GSM 7-bit nor UCS-2"),
        ("0011000BD11346610089F60000AA05E8329BFD06", "alphanumeric"),
    ],
)
def test_bad_pdus_are_refused_saying_why(pdu_hex: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        decode_submit(pdu_hex)
