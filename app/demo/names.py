"""Plausible holder names for the demo site: Chinese name with its pinyin, so a cashier can
search with a Latin keyboard and receipts show CJK characters."""

from __future__ import annotations

import random

SURNAMES = [
    ("王", "Wang"),
    ("李", "Li"),
    ("张", "Zhang"),
    ("刘", "Liu"),
    ("陈", "Chen"),
    ("杨", "Yang"),
    ("黄", "Huang"),
    ("赵", "Zhao"),
    ("吴", "Wu"),
    ("周", "Zhou"),
    ("徐", "Xu"),
    ("孙", "Sun"),
    ("马", "Ma"),
    ("朱", "Zhu"),
    ("胡", "Hu"),
    ("郭", "Guo"),
    ("何", "He"),
    ("林", "Lin"),
    ("高", "Gao"),
    ("罗", "Luo"),
    ("郑", "Zheng"),
    ("梁", "Liang"),
    ("谢", "Xie"),
    ("宋", "Song"),
]
GIVEN = [
    ("伟", "Wei"),
    ("芳", "Fang"),
    ("娜", "Na"),
    ("敏", "Min"),
    ("静", "Jing"),
    ("丽", "Li"),
    ("强", "Qiang"),
    ("磊", "Lei"),
    ("军", "Jun"),
    ("洋", "Yang"),
    ("勇", "Yong"),
    ("艳", "Yan"),
    ("杰", "Jie"),
    ("娟", "Juan"),
    ("涛", "Tao"),
    ("明", "Ming"),
    ("超", "Chao"),
    ("秀英", "Xiuying"),
    ("霞", "Xia"),
    ("平", "Ping"),
    ("刚", "Gang"),
    ("桂英", "Guiying"),
    ("子涵", "Zihan"),
    ("欣怡", "Xinyi"),
    ("浩然", "Haoran"),
    ("雨桐", "Yutong"),
    ("梓轩", "Zixuan"),
    ("思远", "Siyuan"),
]


def holder_name(rng: random.Random) -> str:
    """E.g. ``Zhang Wei 张伟``."""
    surname_cjk, surname = rng.choice(SURNAMES)
    given_cjk, given = rng.choice(GIVEN)
    return f"{surname} {given} {surname_cjk}{given_cjk}"
