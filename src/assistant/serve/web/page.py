"""The chat page: `build_chat_page` lays out the Gradio Blocks and wires the events; it never launches."""

from __future__ import annotations

from typing import Any

import gradio as gr

from ...config import Settings
from ...pipeline import Assistant
from ..feedback import MAX_COMMENT_CHARS, FeedbackStore
from .chat import Chat
from .examples import EXAMPLES, START, ExamplePicker
from .intake import Intake, Refusal, stop_if_refused
from .rating import Ratings
from .theme import COMPACT_CSS, CSS, theme

HEADER = """# CFSP Assistant
Ask about the EU's Common Foreign and Security Policy. Answers are sentences quoted from the official texts: click a
number such as [1] to see the passage, its source and a link to the official text."""

# With a language model configured the answers are worded by it, in the question's language, and checked.
LLM_HEADER = """# CFSP Assistant
Ask about the EU's Common Foreign and Security Policy, in any official EU language. Answers are written in plain words
by a language model from the official texts, and each sentence is shown only once it has been checked against the
official wording it cites: click a number such as [1] to see that wording, its source and a link to the official
text."""

NOTICE = """Answers quote official texts but are not legal advice. Only the texts published in the Official Journal
of the European Union are authentic: check the linked text on [EUR-Lex](https://eur-lex.europa.eu) before relying
on it."""

# The widget (an <iframe> on someone else's page) has little room: a one-line title and a one-line notice.
COMPACT_HEADER = "**CFSP Assistant** · answers quoted from the official EU texts, with links to them"
COMPACT_NOTICE = """Not legal advice: only the texts in the Official Journal of the European Union are authentic
([EUR-Lex](https://eur-lex.europa.eu))."""

# Gradio's Markdown keeps line breaks, so the paragraph is one line (it wrapped mid-sentence in the narrow widget).
PLACEHOLDER = (
    "### Ask about EU foreign, security and defence policy\n"
    "How decisions are taken, the High Representative, CSDP missions, PESCO, sanctions, mutual assistance… "
    "Type a question below or start with one of these:"
)


# Opening "Read the whole article" scrolls the article to the quoted words (the answer HTML itself carries no script).
ON_LOAD = """() => {
  document.addEventListener("toggle", (event) => {
    const box = event.target;
    if (!(box instanceof HTMLDetailsElement) || !box.open || !box.classList.contains("cfsp-context")) return;
    const text = box.querySelector(".cfsp-context-text"), mark = box.querySelector("mark.cfsp-mark");
    if (text && mark) text.scrollTop = mark.offsetTop - text.offsetTop - 8;
  }, true);
}"""


def _answered() -> tuple:
    """Once the answer is complete or stopped: the box opens again and Send is back."""
    return gr.update(interactive=True), gr.update(visible=True), gr.update(visible=False)


def _cleared() -> tuple:
    """A new conversation (the Chatbot's trash icon): no exchanges, ratings or open comment box."""
    return ([], {}, None, gr.update(visible=False), *_answered())


def build_chat_page(
    assistant: Assistant,
    settings: Settings,
    feedback: FeedbackStore,
    *,
    stream_delay: float = 0.03,
    compact: bool = False,
    refusal: Refusal | None = None,
) -> gr.Blocks:
    """The chat page for one loaded assistant, to mount with `page_options` (or `.launch(**page_options())`).
    `compact` is the embeddable widget: short header and notice, no autofocus.
    `refusal` says why a caller may not ask now (the server's rate limit); a full queue is checked here."""
    chat = Chat(assistant, ExamplePicker(EXAMPLES, assistant.embedder.embed_query), stream_delay=stream_delay)
    ratings = Ratings(feedback)

    with gr.Blocks(title="CFSP Assistant", analytics_enabled=False, fill_height=True, fill_width=compact) as demo:
        exchanges = gr.State([])  # this tab's conversation (chat.Exchange records)
        rated = gr.State({})  # message index -> feedback row id, so a changed mind updates the same row
        commenting = gr.State(None)  # the feedback row the comment box will annotate
        pending = gr.State("")  # the question being answered, taken out of the box
        refused = gr.State("")  # why the question just sent was not taken ("" when it was)

        gr.Markdown(
            COMPACT_HEADER if compact else LLM_HEADER if assistant.llm is not None else HEADER, elem_id="cfsp-header"
        )
        chatbot = gr.Chatbot(
            value=[],
            elem_id="cfsp-chat",
            label="Conversation",
            show_label=False,
            scale=1,
            min_height=240 if compact else 360,
            placeholder=PLACEHOLDER,
            examples=[{"text": q} for q in START],
            feedback_options=("Like", "Dislike"),
            sanitize_html=True,
            render_markdown=True,
            latex_delimiters=[],  # "$$...$$" in a question or an official text is shown as typed, not typeset
            autoscroll=True,
            layout="panel",
            buttons=[],
        )
        with gr.Row(equal_height=True):
            question = gr.Textbox(
                placeholder="Type your question, e.g. Who can join PESCO?",
                show_label=False,
                label="Your question",
                lines=1,
                max_lines=6,
                max_length=settings.max_question_chars,
                scale=8,
                autofocus=not compact,  # a widget must not take the host page's focus
                elem_id="cfsp-question",
                submit_btn=False,
            )
            send = gr.Button("Send", variant="primary", scale=1, min_width=90, elem_id="cfsp-send")
            stop = gr.Button("Stop", variant="stop", scale=1, min_width=90, elem_id="cfsp-stop", visible=False)
        waiting = gr.HTML("", visible=False, elem_id="cfsp-wait")  # why a question was not sent (busy, rate limit)
        with gr.Row(visible=False, elem_id="cfsp-comment") as comment_row:
            comment = gr.Textbox(
                label="Thank you for rating this answer. Add a comment (optional):",
                lines=2,
                max_lines=6,
                max_length=MAX_COMMENT_CHARS,
                scale=8,
                elem_id="cfsp-comment-text",
            )
            save_comment = gr.Button("Send comment", scale=1, min_width=120, elem_id="cfsp-comment-send")
        gr.Markdown(COMPACT_NOTICE if compact else NOTICE, elem_id="cfsp-notice")
        api_button = gr.Button(visible=False)

        # Listeners of one trigger run one after another, so each path first takes the question out of the box
        # (the box empties and Stop shows at once) if it may be asked now, then streams the answer to the question
        # it took. A question that must wait stays in the box, a notice says why, and nothing is enqueued.
        intake = Intake(demo, refusal)
        answer: dict[str, Any] = dict(
            fn=chat.respond,
            inputs=[pending, exchanges],
            outputs=[chatbot, exchanges],
            show_progress="hidden",
            api_visibility="private",
        )
        take: dict[str, Any] = dict(
            outputs=[pending, question, send, stop, refused, waiting], queue=False, api_visibility="private"
        )
        taken = [
            question.submit(intake.take_typed, question, **take),
            send.click(intake.take_typed, question, **take),
            chatbot.example_select(intake.take_picked, None, **take),
            chatbot.option_select(intake.take_picked, None, **take),
        ]
        # no outputs, so its stop puts no "Error" over the conversation
        checked = [
            event.success(stop_if_refused, refused, None, queue=False, api_visibility="private") for event in taken
        ]
        running = [event.success(**answer) for event in checked]
        for event in running:
            event.then(_answered, None, [question, send, stop], queue=False, api_visibility="private")
        stop.click(_answered, None, [question, send, stop], cancels=running, queue=False, api_visibility="private")
        # The same chat function for programs (gradio_client): question in, the conversation's messages out.
        api_button.click(
            chat.respond,
            [question, exchanges],
            [chatbot, exchanges],
            api_name="ask",
            api_description="Answer a question; follow-ups are read in this session's context.",
        )
        chatbot.clear(
            _cleared,
            None,
            [exchanges, rated, commenting, comment_row, question, send, stop],
            cancels=running,
            queue=False,
            api_visibility="private",
        )
        # Ratings are quick SQLite writes: outside the queue, so they never count as questions against the rate limit
        chatbot.like(
            ratings.rate, [exchanges, rated], [rated, commenting, comment_row], queue=False, api_visibility="private"
        )
        for trigger in (comment.submit, save_comment.click):
            trigger(
                ratings.comment,
                [comment, commenting],
                [comment, commenting, comment_row],
                queue=False,
                api_visibility="private",
            )

    # api_open=False: the answer runs only through the queue (its /run/ REST route skipped the queue and its limit)
    demo.queue(default_concurrency_limit=settings.concurrency_limit, max_size=settings.queue_max_size, api_open=False)
    return demo


def page_options(compact: bool = False) -> dict[str, Any]:
    """The page's look and behaviour, for `Blocks.launch` and `gr.mount_gradio_app` alike (Gradio 6 takes them there):
    CSS and theme, no server-side rendering, errors kept on the server; the widget has no footer."""
    return {
        "css": CSS + COMPACT_CSS if compact else CSS,
        "theme": theme(),
        "ssr_mode": False,
        "show_error": False,
        "footer_links": [] if compact else ["api"],
        "js": ON_LOAD,
    }
