import gymnasium
import ast
import json


def _require_int(value, name):
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"parameter '{name}' must be an integer")
    return value


class CountPrimesEnv(gymnasium.Env):
    """Count the prime numbers p with 2 <= p <= n, n itself included (so n = 0 or 1 gives 0 and n =
    2 gives 1). Observe shows n; run the sieve of Eratosthenes with NextUnmarked, MarkMultiples and
    CountUnmarked and submit the count as an integer with Done."""
    def __init__(self, env_str: str = None):
        super().__init__()
        self.OBSERVE = 0
        self.NEXT_UNMARKED = 1
        self.MARK_MULTIPLES = 2
        self.COUNT_UNMARKED = 3
        self.DONE = 4
        self.func_mapping = {
            "Observe": self.OBSERVE,
            "NextUnmarked": self.NEXT_UNMARKED,
            "MarkMultiples": self.MARK_MULTIPLES,
            "CountUnmarked": self.COUNT_UNMARKED,
            "Done": self.DONE,
        }
        if env_str is not None:
            options = ast.literal_eval(env_str.split("@", 1)[1])
            self.reset(options)
        else:
            self.reset()

    @property
    def finished(self) -> bool:
        return self._done

    @property
    def reward(self):
        return float(self._reward)

    @staticmethod
    def from_env_str(env_str: str):
        prefix = "CountPrimesEnv@"
        if not env_str.startswith(prefix):
            return None
        return CountPrimesEnv(env_str=env_str)

    def reset(self, options: dict = {}):
        if options is None:
            options = {}
        self.n = int(options.get("n", 0))
        # marked[v] is True once v (2 <= v <= n) has been crossed out as a multiple of a smaller prime
        self.marked = [False] * (max(self.n, 1) + 1)
        self._reward = 0
        self._done = False
        self.step_count = 0
        return "Environment has been reset."

    def get_ref_answer(self):
        """The reference answer computed directly from the task data."""
        count = 0
        for v in range(2, self.n + 1):
            d = 2
            prime = True
            while d * d <= v:
                if v % d == 0:
                    prime = False
                    break
                d += 1
            if prime:
                count += 1
        return count

    def step(self, action: str):
        self.step_count += 1
        try:
            try:
                call_dict = json.loads(action)
            except (TypeError, ValueError):
                raise ValueError("action is not a valid JSON string")
            if not isinstance(call_dict, dict):
                raise ValueError("action must be a JSON object")
            if "name" not in call_dict:
                raise ValueError("function call doesn't have `name`")
            if "parameters" not in call_dict:
                raise ValueError("function call doesn't have `parameters`")
            action_name = call_dict["name"]
            params = call_dict["parameters"]
            if not isinstance(action_name, str) or action_name not in self.func_mapping:
                raise ValueError(f"Invalid action: {action_name}")
            if not isinstance(params, dict):
                raise ValueError("`parameters` must be a JSON object")
            action_code = self.func_mapping[action_name]

            if action_code == self.OBSERVE:
                msg = self.Observe()
            elif action_code == self.NEXT_UNMARKED:
                if "after" in params:
                    msg = self.NextUnmarked(params["after"])
                else:
                    msg = "Error: 'after' parameter is missing for NextUnmarked action."
            elif action_code == self.MARK_MULTIPLES:
                if "p" in params:
                    msg = self.MarkMultiples(params["p"])
                else:
                    msg = "Error: 'p' parameter is missing for MarkMultiples action."
            elif action_code == self.COUNT_UNMARKED:
                msg = self.CountUnmarked()
            elif action_code == self.DONE:
                if "answer" in params:
                    msg = self.Done(params["answer"])
                else:
                    msg = "Error: 'answer' parameter is missing for Done action."
            else:
                msg = f"Error: Invalid action: {action_name}"
        except Exception as e:
            msg = f"Error: {str(e)}"
        return True, msg

    # --- tools ---
    def Observe(self):
        r"""
        Return the upper bound n: the task is to count the prime numbers p with 2 <= p <= n.
        The environment keeps a sieve over 2..n in which no number is marked at the start.

        Returns:
            str: JSON object with key "n".

        Example Output:
            "{\"n\": 30}"
        """
        return json.dumps({"n": self.n})

    def NextUnmarked(self, after):
        r"""
        Find the smallest number v with after < v <= n and v >= 2 that is not yet marked
        as composite in the sieve. Once all multiples of every smaller prime are marked,
        that number is the next prime.

        Args:
            after (int): a non-negative integer; the search starts just after it.

        Returns:
            str: the next unmarked number, or -1 if there is none up to n.

        Example Output:
            "5"
        """
        after = _require_int(after, "after")
        if after < 0:
            raise ValueError(f"parameter 'after' must be non-negative, got {after}")
        v = max(after + 1, 2)
        while v <= self.n:
            if not self.marked[v]:
                return str(v)
            v += 1
        return "-1"

    def MarkMultiples(self, p):
        r"""
        Mark the multiples p*p, p*p + p, p*p + 2p, ... (up to n) of an unmarked number p
        as composite (smaller multiples of p have a smaller prime factor and are marked by
        it). Marks nothing when p*p > n.

        Args:
            p (int): an unmarked number with 2 <= p <= n.

        Returns:
            str: how many numbers were newly marked by this call.

        Example Output:
            "14"
        """
        p = _require_int(p, "p")
        if p < 2 or p > self.n:
            raise ValueError(f"p = {p} out of range 2..{self.n}")
        if self.marked[p]:
            raise ValueError(f"{p} is already marked as composite; sieve only with unmarked numbers")
        newly = 0
        for v in range(p * p, self.n + 1, p):
            if not self.marked[v]:
                self.marked[v] = True
                newly += 1
        return str(newly)

    def CountUnmarked(self):
        r"""
        Count the numbers in 2..n that are not marked as composite in the current sieve.
        After sieving with every prime p with p*p <= n, these are exactly the primes.

        Returns:
            str: the count as an integer.

        Example Output:
            "10"
        """
        return str(sum(1 for v in range(2, self.n + 1) if not self.marked[v]))

    def Done(self, answer):
        r"""
        Submit the final answer and end the episode.

        Args:
            answer (int): the number of primes less than or equal to n.

        Returns:
            str: whether the answer is correct, with the reference answer.

        Example Output:
            "Your answer: 10, reference answer: 10, result: correct, reward=1"
        """
        answer = _require_int(answer, "answer")
        ref_answer = self.get_ref_answer()
        correct = answer == ref_answer
        self._reward = 1 if correct else 0
        self._done = True
        msg = f"Your answer: {answer}, reference answer: {ref_answer}"
        return msg + f", result: {'correct' if correct else 'incorrect'}, reward={self._reward}"

    def solve(self):
        r"""Solve the task using only the tools (through self.step with JSON actions) and submit."""
        n = json.loads(self.step(json.dumps({"name": "Observe", "parameters": {}}))[1])["n"]
        p = int(self.step(json.dumps({"name": "NextUnmarked", "parameters": {"after": 1}}))[1])
        while p != -1 and p * p <= n:
            self.step(json.dumps({"name": "MarkMultiples", "parameters": {"p": p}}))
            p = int(self.step(json.dumps({"name": "NextUnmarked", "parameters": {"after": p}}))[1])
        count = int(self.step(json.dumps({"name": "CountUnmarked", "parameters": {}}))[1])
        return self.step(json.dumps({"name": "Done", "parameters": {"answer": count}}))[1]


if __name__ == "__main__":
    env = CountPrimesEnv.from_env_str('CountPrimesEnv@{"n": 30}')
    print(env.solve())
    print("step count:", env.step_count)
    env = CountPrimesEnv.from_env_str('CountPrimesEnv@{"n": 1}')
    print(env.solve())
    print("step count:", env.step_count)
