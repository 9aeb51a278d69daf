"""The question stage: validation, language, follow-ups, references and the analysed query every later stage reads."""
