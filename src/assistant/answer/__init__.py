"""The answer stage: from a question's `Query` and `Retrieval` to a cited `Answer`, in steps that pass frozen records
(`records`):

1. `features`: every provision of the best passages becomes a `Candidate` with what the ranker weighs;
2. `rank`: a `Ranker` scores them (the rules' weighted sum, with the `reader`'s probability for some, or the learned
   logistic regression) and orders them;
3. `decide`: a `Decision`: decline, saying what the texts lack, or the candidates to answer from, what was asked
   for first;
4. `compose`: the `Part`s quoted: the provision that answers, then at most two that complete it, trimmed;
5. `cite`: the answer text with [n] markers and its citations.

`answerer.Answerer` runs them in order; `evidence` holds what wording is recognised by (figures, years, persons).
"""
