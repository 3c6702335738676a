"""Generate a large 双公示 administrative-penalty CSV for the import benchmark (Art. 10, 46).

Streams rows to the file (constant memory): UTF-8 with a BOM and the national field names, as a
providing department's system exports them; realistic Chinese content, valid unified social credit
codes (GB 32100 check characters), unique decision numbers, and a few per cent of bad rows of the
kinds real files carry (a wrong check character, a decision date in the future, a required field
left empty, a malformed fine, a publicity end before the decision).

    python tests/bench/gen_penalty.py OUT.csv --rows 1000000 [--bad-percent 3] [--seed 7]
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import random
import sys
from pathlib import Path

PROVIDER_USCC = "11211382013786428K"
PROVIDER_NAME = "凌源市市场监督管理局"
HEADER = [
    "行政相对人名称", "行政相对人类别", "统一社会信用代码", "法定代表人", "行政处罚决定书文号", "违法行为类型",
    "违法事实", "处罚依据", "处罚类别", "处罚内容", "罚款金额（万元）",
    "没收违法所得、没收非法财物的金额（万元）", "暂扣或吊销证照名称及编号", "处罚决定日期", "处罚有效期",
    "公示截止期", "处罚机关", "处罚机关统一社会信用代码", "数据来源单位", "数据来源单位统一社会信用代码", "备注",
]
_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_WEIGHTS = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28]
_TRADE_NAMES = ("鑫源", "宏达", "兴盛", "凌河", "泰和", "瑞丰", "恒通", "金鼎", "华宇", "利民", "北方", "大凌河",
                "汇丰", "盛世", "永顺", "佳和", "德润", "辽西", "红山", "青松", "康泰", "安达", "福满", "万隆")
_TRADES = ("商贸", "建材", "食品", "农资", "餐饮", "药房", "汽车维修", "五金", "物流", "酒业", "粮油", "服装",
           "家电", "装饰工程", "农业科技", "矿业", "印刷", "电子")
_FORMS = ("有限公司", "有限责任公司", "商行", "经销处", "股份有限公司")
_SURNAMES = "王李张刘陈杨赵黄周吴徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任"
_GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英建华国庆志强海燕春梅晓东玉兰"
_CASES = (
    ("销售不符合食品安全标准的食品", "《中华人民共和国食品安全法》第一百二十四条第一款", "罚款"),
    ("未按规定公示年度报告", "《企业信息公示暂行条例》第十八条", "警告"),
    ("销售过期药品", "《中华人民共和国药品管理法》第一百一十七条", "罚款"),
    ("无照经营", "《无证无照经营查处办法》第十三条", "罚款"),
    ("虚假宣传", "《中华人民共和国反不正当竞争法》第二十条", "罚款"),
    ("计量器具未经检定", "《中华人民共和国计量法实施细则》第四十三条", "罚款"),
    ("价格违法行为", "《价格违法行为行政处罚规定》第十三条", "没收违法所得"),
    ("特种设备未经定期检验继续使用", "《中华人民共和国特种设备安全法》第八十四条", "罚款"),
    ("销售不合格产品", "《中华人民共和国产品质量法》第四十九条", "罚款"),
    ("擅自改变登记事项", "《中华人民共和国市场主体登记管理条例》第四十六条", "通报批评"),
)


def uscc(body17: str) -> str:
    """Complete a 17-character code body with its GB 32100 check character."""
    total = sum(_ALPHABET.index(c) * w for c, w in zip(body17, _WEIGHTS, strict=True))
    return body17 + _ALPHABET[(31 - total % 31) % 31]


def _company_code(rng: random.Random, number: int) -> str:
    return uscc("91211382" + "MA" + "".join(rng.choice(_ALPHABET) for _ in range(6)) + f"{number % 10}")


def _companies(rng: random.Random, count: int) -> list[tuple[str, str, str]]:
    out = []
    for number in range(count):
        name = (f"凌源市{rng.choice(_TRADE_NAMES)}{rng.choice(_TRADES)}{_FORMS[number % len(_FORMS)]}"
                f"{'' if number < 200 else '（' + str(number) + '）'}")
        boss = rng.choice(_SURNAMES) + rng.choice(_GIVEN) + rng.choice(_GIVEN)
        out.append((name, _company_code(rng, number), boss))
    return out


def _fine(rng: random.Random) -> str:
    return f"{rng.choice((0.05, 0.2, 0.5, 1, 2, 3.5, 5, 10, 20)) * rng.randint(1, 3):.4f}".rstrip("0").rstrip(".")


def rows(count: int, *, bad_percent: float = 3.0, seed: int = 7, year: int = 2026,
         last_day: dt.date = dt.date(2026, 11, 20)) -> list[str]:
    """Yield ``count`` rows (lists of cell texts) after the header."""
    rng = random.Random(seed)
    companies = _companies(rng, max(1, min(count // 10, 100_000)))
    first = dt.date(year, 1, 1)
    span = (last_day - first).days
    authority_code = PROVIDER_USCC
    bad_every = int(100 / bad_percent) if bad_percent > 0 else 0
    for number in range(1, count + 1):
        name, code, boss = companies[rng.randrange(len(companies))]
        decided = first + dt.timedelta(days=rng.randrange(span))
        facts, basis, kind = _CASES[number % len(_CASES)]
        fine = _fine(rng) if kind == "罚款" else ""
        confiscated = f"{rng.randint(1, 500) / 100:.2f}" if kind == "没收违法所得" else ""
        publicity = decided.replace(year=decided.year + 1) if not (decided.month == 2 and decided.day == 29) \
            else dt.date(decided.year + 1, 2, 28)
        row = [
            name, "法人及非法人组织", code, boss, f"凌市监罚〔{year}〕{number}号", facts,
            f"经查，当事人于{decided.month}月{decided.day}日{facts}，涉及商品{rng.randint(2, 90)}件，事实清楚、证据确凿。",
            basis, kind, kind + (f"{fine}万元" if fine else ""),
            fine, confiscated, "", decided.isoformat(), publicity.isoformat(), publicity.isoformat(),
            PROVIDER_NAME, authority_code, PROVIDER_NAME, PROVIDER_USCC, "",
        ]
        if bad_every and number % bad_every == 0:
            _spoil(row, number // bad_every, last_day)
        yield row


def _spoil(row: list[str], which: int, last_day: dt.date) -> None:
    kind = which % 5
    if kind == 0:
        code = row[2]
        row[2] = code[:17] + ("0" if code[17] != "0" else "1")
    elif kind == 1:
        row[13] = (last_day + dt.timedelta(days=400)).isoformat()
    elif kind == 2:
        row[6] = ""
    elif kind == 3:
        row[10] = "1.2.3"
        row[8] = "罚款"
    else:
        row[15] = "2020-01-01"


def write(path: Path, count: int, *, bad_percent: float = 3.0, seed: int = 7) -> Path:
    with path.open("w", encoding="utf-8-sig", newline="") as out:
        writer = csv.writer(out, lineterminator="\r\n")
        writer.writerow(HEADER)
        writer.writerows(rows(count, bad_percent=bad_percent, seed=seed))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--bad-percent", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    write(args.out, args.rows, bad_percent=args.bad_percent, seed=args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main())
