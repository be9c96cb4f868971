"""The named-query loader: parsing, numbering, loud failures, and check()."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import asyncpg
import pytest

from common.db.queries import SQL_DIR, Queries, QueryFileError, parse_file


@pytest.fixture
def sql_dir(tmp_path: Path) -> Callable[..., Path]:
    """Write ``name=text`` pairs as .sql files into a fresh directory."""

    def write(**files: str) -> Path:
        for name, text in files.items():
            (tmp_path / f"{name}.sql").write_text(text, encoding="utf-8")
        return tmp_path

    return write


def load(sql_dir: Callable[..., Path], text: str) -> Queries:
    return Queries.load(sql_dir(q=text))


def test_params_become_numbered_placeholders_in_order_of_first_use(
    sql_dir: Callable[..., Path],
) -> None:
    queries = load(
        sql_dir,
        "-- name: find\nSELECT * FROM t WHERE a = :alpha AND b = :beta OR c = :alpha\n",
    )
    query = queries.get("find", "many")

    assert query.sql == "SELECT * FROM t WHERE a = $1 AND b = $2 OR c = $1"
    assert query.params == ("alpha", "beta")
    assert query.arguments({"beta": 2, "alpha": 1}) == [1, 2]


def test_casts_are_not_params(sql_dir: Callable[..., Path]) -> None:
    queries = load(sql_dir, "-- name: cast$\nSELECT :id::int, created_at::date, x :: text\n")
    query = queries.get("cast", "value")

    assert query.sql == "SELECT $1::int, created_at::date, x :: text"
    assert query.params == ("id",)


def test_quoted_text_identifiers_and_comments_are_untouched(sql_dir: Callable[..., Path]) -> None:
    text = (
        "-- name: quoted\nSELECT ':text', 'it''s :not', \"col:umn\", :real -- a :comment\nFROM t\n"
    )
    query = load(sql_dir, text).get("quoted", "many")

    assert query.sql == ("SELECT ':text', 'it''s :not', \"col:umn\", $1 -- a :comment\nFROM t")
    assert query.params == ("real",)


def test_a_query_without_params(sql_dir: Callable[..., Path]) -> None:
    query = load(sql_dir, "-- name: ping$\nSELECT 1;\n").get("ping", "value")

    assert query.params == ()
    assert query.arguments({}) == []


@pytest.mark.parametrize(
    ("suffix", "operation"), [("", "many"), ("^", "one"), ("$", "value"), ("!", "execute")]
)
def test_operation_suffixes(sql_dir: Callable[..., Path], suffix: str, operation: str) -> None:
    queries = load(sql_dir, f"-- name: q{suffix}\nSELECT 1\n")

    assert queries.get("q", operation).operation == operation  # type: ignore[arg-type]


def test_wrong_operation_raises_type_error_naming_the_query(sql_dir: Callable[..., Path]) -> None:
    queries = load(sql_dir, "-- name: q^\nSELECT 1\n")

    with pytest.raises(TypeError, match=r"query q \(q\.sql:1\) is 'one', not 'value'"):
        queries.get("q", "value")


def test_source_names_the_file_and_header_line(sql_dir: Callable[..., Path]) -> None:
    directory = sql_dir(
        users="-- A comment first.\n\n-- name: first\nSELECT 1;\n\n-- name: second!\nSELECT 2;\n"
    )

    sources = {query.name: query.source for query in Queries.load(directory)}

    assert sources == {"first": "users.sql:3", "second": "users.sql:6"}


def test_comments_between_header_and_sql_belong_to_the_query(sql_dir: Callable[..., Path]) -> None:
    query = load(sql_dir, "-- name: q$\n-- why this query exists\nSELECT :x;\n").get("q", "value")

    assert query.sql == "-- why this query exists\nSELECT $1;"


def test_files_load_together(sql_dir: Callable[..., Path]) -> None:
    queries = Queries.load(sql_dir(a="-- name: one$\nSELECT 1\n", b="-- name: two$\nSELECT 2\n"))

    assert "one" in queries
    assert "two" in queries
    assert "three" not in queries


def test_duplicate_names_within_a_file(sql_dir: Callable[..., Path]) -> None:
    directory = sql_dir(dup="-- name: q\nSELECT 1;\n\n-- name: q$\nSELECT 2;\n")

    with pytest.raises(QueryFileError, match=r"^dup\.sql:4: q already defined at dup\.sql:1$"):
        Queries.load(directory)


def test_duplicate_names_across_files(sql_dir: Callable[..., Path]) -> None:
    directory = sql_dir(a="-- name: q\nSELECT 1;\n", b="\n-- name: q!\nSELECT 2;\n")

    with pytest.raises(QueryFileError, match=r"^b\.sql:2: q already defined at a\.sql:1$"):
        Queries.load(directory)


@pytest.mark.parametrize(
    "header",
    [
        "-- name: Bad-Name",
        "-- name: 1st",
        "-- name:",
        "-- name: q^$",
        "-- name: q?",
        "-- name: two words",
        "-- Name: q",
    ],
)
def test_malformed_headers(sql_dir: Callable[..., Path], header: str) -> None:
    directory = sql_dir(bad=f"-- name: fine\nSELECT 1;\n\n{header}\nSELECT 2;\n")

    with pytest.raises(QueryFileError, match=r"^bad\.sql:4: malformed header"):
        Queries.load(directory)


@pytest.mark.parametrize("header", ["--name: second$", "--  name: second$"])
def test_header_spacing_variants_are_not_silently_dropped(
    sql_dir: Callable[..., Path], header: str
) -> None:
    directory = sql_dir(spacing=f"-- name: first$\nSELECT 1;\n\n{header}\nSELECT 2;\n")

    try:
        queries = Queries.load(directory)
    except QueryFileError:
        return  # refusing it loudly is fine too
    assert "second" in queries


def test_sql_before_the_first_header(sql_dir: Callable[..., Path]) -> None:
    directory = sql_dir(early="-- a comment is fine\n\nSELECT 1;\n-- name: q\nSELECT 2;\n")

    with pytest.raises(QueryFileError, match=r"^early\.sql:3: SQL before the first '-- name:'"):
        Queries.load(directory)


def test_a_header_without_sql(sql_dir: Callable[..., Path]) -> None:
    directory = sql_dir(empty="-- name: q\n\n  \n-- name: r\nSELECT 1;\n")

    with pytest.raises(QueryFileError, match=r"^empty\.sql:1: query q has no SQL"):
        Queries.load(directory)


def test_a_header_with_only_comments_has_no_sql(sql_dir: Callable[..., Path]) -> None:
    directory = sql_dir(
        empty="-- name: q!\n-- SELECT 1; (commented out)\n\n-- name: r\nSELECT 1;\n"
    )

    with pytest.raises(QueryFileError, match=r"^empty\.sql:1: query q has no SQL"):
        Queries.load(directory)


def test_a_directory_without_sql_files(tmp_path: Path) -> None:
    with pytest.raises(QueryFileError, match=r"no \.sql files"):
        Queries.load(tmp_path)


def test_parse_file_returns_queries_in_file_order(sql_dir: Callable[..., Path]) -> None:
    directory = sql_dir(order="-- name: b\nSELECT 1;\n-- name: a\nSELECT 2;\n")

    assert [query.name for query in parse_file(directory / "order.sql")] == ["b", "a"]


def test_real_queries_load() -> None:
    queries = Queries.load()

    for name in ("ping", "insert_user", "claim_message", "lock_migrations", "get_session"):
        assert name in queries
    assert all(query.source.split(":")[0].endswith(".sql") for query in queries)
    assert Queries.load(SQL_DIR / "queries").get("ping", "value").sql == "SELECT 1;"


async def test_real_queries_pass_check(pool: asyncpg.Pool, queries: Queries) -> None:
    async with pool.acquire() as conn:
        await queries.check(conn)
        assert await queries.value(conn, "ping") == 1


async def test_check_names_the_file_and_line_of_a_typo(
    pool: asyncpg.Pool, sql_dir: Callable[..., Path]
) -> None:
    queries = Queries.load(
        sql_dir(
            broken=(
                "-- name: fine$\nSELECT 1;\n\n"
                "-- name: typo^\nSELECT id FROM userz WHERE id = :user_id;\n"
            )
        )
    )

    async with pool.acquire() as conn:
        with pytest.raises(QueryFileError, match=r"^broken\.sql:4: query typo: .*userz"):
            await queries.check(conn)


@pytest.mark.parametrize(
    "params",
    [{}, {"message_id": "x"}, {"message_id": "x", "method": "m", "extra": 1}, {"id": "x"}],
)
async def test_wrong_keyword_arguments_raise_type_error(
    pool: asyncpg.Pool, queries: Queries, params: dict[str, str]
) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(
            TypeError, match=r"query claim_message takes \['message_id', 'method'\]"
        ):
            await queries.value(conn, "claim_message", **params)


@pytest.mark.parametrize(
    ("call", "name"),
    [("one", "ping"), ("many", "ping"), ("execute", "ping"), ("value", "completed_reply")],
)
async def test_calling_with_the_wrong_operation_raises_type_error(
    pool: asyncpg.Pool, queries: Queries, call: str, name: str
) -> None:
    params = {"message_id": "x"} if name == "completed_reply" else {}
    async with pool.acquire() as conn:
        with pytest.raises(TypeError, match=f"query {name} "):
            await getattr(queries, call)(conn, name, **params)


async def test_unknown_query_name_raises_key_error(pool: asyncpg.Pool, queries: Queries) -> None:
    async with pool.acquire() as conn:
        with pytest.raises(KeyError, match="no_such_query"):
            await queries.value(conn, "no_such_query")


async def test_each_operation_returns_its_shape(
    pool: asyncpg.Pool, sql_dir: Callable[..., Path]
) -> None:
    queries = Queries.load(
        sql_dir(
            shapes=(
                "-- name: rows\nSELECT g AS n FROM generate_series(1, :last) AS g;\n"
                "-- name: row^\nSELECT :a::int AS a, :b::text AS b;\n"
                "-- name: missing^\nSELECT 1 WHERE FALSE;\n"
                "-- name: scalar$\nSELECT :a::int + :a::int;\n"
                "-- name: statement!\nSELECT 1;\n"
            )
        )
    )

    async with pool.acquire() as conn:
        assert [row["n"] for row in await queries.many(conn, "rows", last=3)] == [1, 2, 3]
        row = await queries.one(conn, "row", a=7, b="seven")
        assert row is not None
        assert dict(row) == {"a": 7, "b": "seven"}
        assert await queries.one(conn, "missing") is None
        assert await queries.value(conn, "scalar", a=21) == 42
        assert await queries.execute(conn, "statement") == "SELECT 1"
